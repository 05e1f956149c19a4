"""Graduate admission, the classic binary-classification tutorial, on generated data.

    python examples/admission.py        # prints test accuracy, writes admission.png

Each applicant has a GRE score (200-800), a GPA (2.0-4.0) and the rank of their undergraduate
institution (1 = most prestigious ... 4). Admission is drawn from a logistic model of those
three, so the best any classifier can do is known: the example prints it next to the
network's accuracy and the majority-class baseline. The features are standardized with the
training split's mean and standard deviation, rank is one-hot encoded (rank 1 is the reference
level), and a Dense(16, relu) -> Dense(1, sigmoid) network is trained with binary
cross-entropy and adam.
"""

from __future__ import annotations

import numpy as np

from symnet.nn import Dense, Sequential, set_seed

# the logistic model that decides admission (log-odds per unit of each feature)
INTERCEPT = -3.0
GRE_PER_100 = 1.2
GPA_PER_POINT = 3.0
RANK_EFFECT = {1: 0.0, 2: -0.9, 3: -1.6, 4: -2.1}


def admission_log_odds(gre, gpa, rank):
    rank_effect = np.select([rank == r for r in RANK_EFFECT], list(RANK_EFFECT.values()))
    return INTERCEPT + GRE_PER_100 * (gre - 500) / 100 + GPA_PER_POINT * (gpa - 2.5) + rank_effect


def make_applicants(n=2500, seed=0):
    """(gre, gpa, rank, admitted) for ``n`` generated applicants."""
    rng = np.random.default_rng(seed)
    rank = rng.choice([1, 2, 3, 4], size=n, p=[0.15, 0.38, 0.30, 0.17])
    ability = rng.normal(size=n)  # GRE and GPA are correlated through it
    gre = np.clip(np.round((580 + 80 * ability + 80 * rng.normal(size=n)) / 10) * 10, 200, 800)
    gpa = np.clip(3.3 + 0.25 * ability + 0.25 * rng.normal(size=n), 2.0, 4.0).round(2)
    p = 1 / (1 + np.exp(-admission_log_odds(gre, gpa, rank)))
    admitted = (rng.random(n) < p).astype("float32")
    return gre, gpa, rank, admitted


def features(gre, gpa, rank, mean=None, std=None):
    """Standardized GRE and GPA, and rank as three indicator columns (rank 2, 3, 4)."""
    numeric = np.stack([gre, gpa], axis=1).astype("float64")
    if mean is None:
        mean, std = numeric.mean(axis=0), numeric.std(axis=0)
    dummies = np.stack([rank == r for r in (2, 3, 4)], axis=1)
    x = np.concatenate([(numeric - mean) / std, dummies], axis=1).astype("float32")
    return x, mean, std


def main(epochs=30, plot=True, verbose=2):
    set_seed(0)
    np.random.seed(0)  # fit's shuffling
    gre, gpa, rank, admitted = make_applicants()
    split = int(0.8 * len(gre))
    x_train, mean, std = features(gre[:split], gpa[:split], rank[:split])
    x_test, _, _ = features(gre[split:], gpa[split:], rank[split:], mean, std)
    y_train, y_test = admitted[:split], admitted[split:]

    model = Sequential([
        Dense(16, activation="relu", input_dim=x_train.shape[1]),
        Dense(1, activation="sigmoid"),
    ])
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    history = model.fit(x_train, y_train, epochs=epochs, batch_size=32, validation_split=0.2,
                        verbose=verbose)
    loss, accuracy = model.evaluate(x_test, y_test)

    # the best possible classifier knows the true log-odds; the trivial one says "rejected"
    true_odds = admission_log_odds(gre[split:], gpa[split:], rank[split:])
    bayes = float(np.mean((true_odds > 0) == (y_test == 1)))
    majority = float(max(y_test.mean(), 1 - y_test.mean()))
    print(f"admitted in the training data: {y_train.mean():.1%}")
    print(f"test loss {loss:.4f}, test accuracy {accuracy:.4f} "
          f"(best possible {bayes:.4f}, always-reject baseline {majority:.4f})")
    applicants = [(780, 3.9, 1), (640, 3.4, 2), (520, 3.0, 3), (400, 2.6, 4)]
    x_new, _, _ = features(*(np.array(column) for column in zip(*applicants)), mean, std)
    for (g, a, r), p in zip(applicants, model.predict(x_new).ravel()):
        print(f"GRE {g}, GPA {a:.1f}, rank {r}: admission probability {p:.2f}")

    plotted = False
    if plot:
        try:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            print("matplotlib is not installed: no plot")
        else:
            fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
            for key in ("loss", "val_loss"):
                left.plot(history.history[key], label=key)
            for key in ("accuracy", "val_accuracy"):
                right.plot(history.history[key], label=key)
            right.axhline(bayes, color="gray", linestyle="--", label="best possible (test split)")
            for ax in (left, right):
                ax.set_xlabel("epoch")
                ax.legend()
            fig.tight_layout()
            fig.savefig("admission.png")
            plt.close(fig)
            plotted = True
            print("wrote admission.png")
    return {"history": history, "accuracy": accuracy, "loss": loss, "bayes": bayes,
            "majority": majority, "plotted": plotted}


if __name__ == "__main__":
    main()
