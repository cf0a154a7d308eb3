"""Sparse input: TF-IDF features of a small corpus straight into skmlp.

The corpus is built here (no download): short sentences about three topics.
TfidfVectorizer gives a scipy CSR matrix, which the network multiplies without
ever densifying it.

    python examples/text_classification.py
"""

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline

from skmlp import MLPClassifierFromScratch

rng = np.random.default_rng(0)
TOPICS = {
    "sports": ["match", "goal", "team", "coach", "league", "score", "player", "season",
               "referee", "stadium", "win", "tournament"],
    "cooking": ["recipe", "oven", "flour", "sauce", "garlic", "bake", "simmer", "butter",
                "kitchen", "spice", "dough", "taste"],
    "space": ["orbit", "rocket", "planet", "launch", "telescope", "galaxy", "astronaut",
              "moon", "satellite", "nasa", "comet", "gravity"],
}
COMMON = ["the", "a", "was", "is", "and", "today", "new", "very", "after", "with", "this", "we"]


def sentence(topic):
    words = list(rng.choice(TOPICS[topic], size=3)) + list(rng.choice(COMMON, size=5))
    other = rng.choice([t for t in TOPICS if t != topic])
    words += list(rng.choice(TOPICS[other], size=1))  # some noise from another topic
    rng.shuffle(words)
    return " ".join(words)


labels = rng.choice(sorted(TOPICS), size=600)
docs = [sentence(t) for t in labels]
docs_train, docs_test, y_train, y_test = train_test_split(docs, labels, stratify=labels,
                                                          random_state=0)

model = make_pipeline(TfidfVectorizer(),
                      MLPClassifierFromScratch((32,), alpha=1e-2, random_state=0))
model.fit(docs_train, y_train)
X_train = model[0].transform(docs_train)
print(f"TF-IDF matrix: {type(X_train).__name__}, shape {X_train.shape}, "
      f"{X_train.nnz / np.prod(X_train.shape):.1%} non-zero")
print(f"test accuracy: {model.score(docs_test, y_test):.3f}")
for doc in ["the rocket reached orbit around the moon", "bake the dough with butter"]:
    print(f"{doc!r} -> {model.predict([doc])[0]}")
