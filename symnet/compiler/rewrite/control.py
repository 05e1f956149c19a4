"""Pass canonicalize, for scan and ifelse: drop what nothing reads, and merge a loop into an
equal loop that stacks more of its states.

Gradients leave such work behind: the gradient of a scan computes the gradients of every
sequence and non-sequence and stacks every state of the forward loop, and the cost usually
reads a few of them. These rewrites rebuild the op with fewer inner-graph outputs (and the
inputs only those read), so that the loop does, and compiles, only what is read.
"""

from __future__ import annotations

import dataclasses

from symnet.compiler.rewrite.passes import local_rewrite
from symnet.graph import graph_inputs
from symnet.ops.control import IfElse, InnerGraph, Scan


@local_rewrite("canonicalize", tracks=[Scan])
def local_scan_unused_outputs(fgraph, node):
    """scan -> a scan without the outputs, states and inputs nothing reads.

    Unread outputs are typically the gradients of data sequences; a state whose history
    nothing reads keeps only its final value."""
    op = node.op
    S, R, M = op.n_seqs, op.n_states, op.n_outs
    step = op.step
    used = [bool(fgraph.clients.get(out)) for out in node.outputs]
    need_state = used[:R]
    need_out = used[R:]
    while True:
        roots = [step.outputs[j] for j in range(R) if need_state[j]]
        roots += [step.outputs[R + m] for m in range(M) if need_out[m]]
        reads = {id(v) for v in graph_inputs(roots)}
        grown = [j for j in range(R) if not need_state[j] and id(step.inputs[S + j]) in reads]
        if not grown:
            break
        for j in grown:
            need_state[j] = True
    if not any(need_state) and not any(need_out):
        return None
    keep_seq = [k for k in range(S) if id(step.inputs[k]) in reads]
    keep_state = [j for j in range(R) if need_state[j]]
    keep_out = [m for m in range(M) if need_out[m]]
    keep_nonseq = [k for k in range(S + R, len(step.inputs)) if id(step.inputs[k]) in reads]
    stacked = tuple(op.stacked[j] and used[j] for j in keep_state)
    if (len(keep_seq) == S and len(keep_state) == R and len(keep_out) == M
            and len(keep_nonseq) == op.n_nonseqs
            and stacked == tuple(op.stacked)):
        return None
    inputs = [step.inputs[k] for k in keep_seq] + [step.inputs[S + j] for j in keep_state]
    inputs += [step.inputs[k] for k in keep_nonseq]
    outputs = [step.outputs[j] for j in keep_state] + [step.outputs[R + m] for m in keep_out]
    new_op = Scan(InnerGraph(inputs, outputs), len(keep_seq), len(keep_state), len(keep_out),
                  stacked, op.reverse, tuple(op.seq_label(k) for k in keep_seq))
    outer = [node.inputs[1 + k] for k in keep_seq] + [node.inputs[1 + S + j] for j in keep_state]
    outer += [node.inputs[1 + k] for k in keep_nonseq]
    new_outputs = new_op.make_node(node.inputs[0], *outer).outputs
    replacement = list(node.outputs)  # unread outputs stay as they are (nothing reads them)
    for position, j in enumerate(keep_state):
        if used[j]:
            replacement[j] = new_outputs[position]
    for position, m in enumerate(keep_out):
        replacement[R + m] = new_outputs[len(keep_state) + position]
    return replacement


@local_rewrite("canonicalize", tracks=[Scan])
def local_scan_merge_stacking(fgraph, node):
    """scan -> the history of an equal scan that stacks more states.

    Differentiating a scan that keeps only some states' histories adds the same loop stacking
    every state (backpropagation reads them all): the forward loop would run, and be
    compiled, twice. A state this scan keeps only the final value of is the other's history
    at its last step."""
    op = node.op
    if all(op.stacked):
        return None
    for client, _ in fgraph.clients.get(node.inputs[0], {}):
        if (isinstance(client, str) or client is node or not isinstance(client.op, Scan)
                or len(client.inputs) != len(node.inputs)
                or any(a is not b for a, b in zip(client.inputs, node.inputs))):
            continue
        other = client.op
        if (dataclasses.replace(other, stacked=op.stacked) != op
                or not all(b or not a for a, b in zip(op.stacked, other.stacked))):
            continue
        last = 0 if op.reverse else -1  # a reverse scan's last step stores at index 0
        replacement = []
        for j, out in enumerate(client.outputs):
            keep_all = j >= op.n_states or op.stacked[j]
            replacement.append(out if keep_all else out[last])
        return replacement
    return None


@local_rewrite("canonicalize", tracks=[IfElse])
def local_ifelse_unused_outputs(fgraph, node):
    """ifelse -> an ifelse without the outputs nothing reads.

    The values only those outputs read are dropped from the inputs too."""
    op = node.op
    used = [k for k, out in enumerate(node.outputs) if fgraph.clients.get(out)]
    if not used or len(used) == len(node.outputs):
        return None
    values = node.inputs[1:]
    kept, position, graphs = [], {}, []
    for graph, positions in ((op.then_graph, op.then_inputs), (op.else_graph, op.else_inputs)):
        outputs = [graph.outputs[k] for k in used]
        reads = {id(v) for v in graph_inputs(outputs)}
        pairs = [(ph, values[k]) for ph, k in zip(graph.inputs, positions) if id(ph) in reads]
        for _, value in pairs:
            if id(value) not in position:
                position[id(value)] = len(kept)
                kept.append(value)
        graphs.append((InnerGraph([ph for ph, _ in pairs], outputs),
                       tuple(position[id(v)] for _, v in pairs)))
    (then_graph, then_inputs), (else_graph, else_inputs) = graphs
    new_outputs = IfElse(then_graph, else_graph, then_inputs, else_inputs).make_node(
        node.inputs[0], *kept).outputs
    replacement = list(node.outputs)
    for position_, k in enumerate(used):
        replacement[k] = new_outputs[position_]
    return replacement
