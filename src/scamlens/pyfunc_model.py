"""The MLflow pyfunc wrapper, logged as "models from code" so that MLflow never pickles it.

MLflow loads this file, which registers `ScamlensPyfunc` through `set_model`; the model folder
travels as the artifact "model". Input: a DataFrame with a "text" column (or a list of strings).
Output: one score column per label and a "labels" column with the labels over threshold. The
request's `params` may name an operating point (`{"operating_point": "feed"}`) to decide with its
thresholds; an unknown one is a bad request that lists the model's. MLflow passes params only when
the logged signature declares them: a model logged before they existed drops them with a warning
in the server log and answers at the default point.

A row that is not a string is refused as a bad request naming the row and the field
(`row 3: text: expected a string, got null`); an empty batch gives an empty result.
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
        from mlflow.exceptions import MlflowException
        from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE

        from scamlens.runtime.errors import InputError
        from scamlens.serving import RequestError, request_texts

        try:
            texts = request_texts(model_input)
            model = self.model.at((params or {}).get("operating_point"))
        except (RequestError, InputError) as exc:
            # MLflow's server answers an MlflowException with its message and a 400; any other
            # exception becomes "Encountered an unexpected error", which names neither row nor field.
            raise MlflowException(str(exc), error_code=INVALID_PARAMETER_VALUE) from None
        predictions = model.predict(texts, evidence=False)
        rows = [{**{f"{SCORE_PREFIX}{k}": v for k, v in p["scores"].items()}, "labels": p["labels"]}
                for p in predictions]
        columns = [f"{SCORE_PREFIX}{label}" for label in self.model.labels] + ["labels"]
        return pd.DataFrame(rows, columns=columns)


mlflow.models.set_model(ScamlensPyfunc())
