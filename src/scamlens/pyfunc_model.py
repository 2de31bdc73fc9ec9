"""The MLflow pyfunc wrapper, logged as "models from code" so that MLflow never pickles it.

MLflow loads this file, which registers `ScamlensPyfunc` through `set_model`; the model folder
travels as the artifact "model". Input: a DataFrame with a "text" column (or a list of strings).
Output: one score column per label and a "labels" column with the labels over threshold.
"""

from __future__ import annotations

import mlflow
from mlflow.pyfunc import PythonModel

SCORE_PREFIX = "score_"


class ScamlensPyfunc(PythonModel):
    def load_context(self, context) -> None:
        from scamlens.runtime import load

        self.model = load(context.artifacts["model"])

    def predict(self, context, model_input, params=None):
        import pandas as pd

        if isinstance(model_input, pd.DataFrame):
            texts = model_input["text"].tolist()
        elif isinstance(model_input, str):
            texts = [model_input]
        else:
            texts = list(model_input)
        predictions = self.model.predict(texts, evidence=False)
        rows = [{**{f"{SCORE_PREFIX}{k}": v for k, v in p["scores"].items()}, "labels": p["labels"]}
                for p in predictions]
        columns = [f"{SCORE_PREFIX}{label}" for label in self.model.labels] + ["labels"]
        return pd.DataFrame(rows, columns=columns)


mlflow.models.set_model(ScamlensPyfunc())
