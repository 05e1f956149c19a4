"""The compiler: FunctionGraph, rewrite passes, backends, kernel cache and function()."""
