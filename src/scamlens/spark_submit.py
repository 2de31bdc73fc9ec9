"""`scamlens score --engine spark` as a file for spark-submit, which runs .py files, not console scripts.

    spark-submit --master yarn "$(python -c 'import scamlens.spark_submit as m; print(m.__file__)')" \\
        MODEL --input 'hdfs:///news/2024-*.jsonl.gz' --output hdfs:///scores/news-2024
"""

import sys
from pathlib import Path

if __name__ == "__main__":
    # Run as a file, this folder leads sys.path and its modules (config.py, dataset.py, ...) would
    # shadow top-level packages of the same name; scamlens is imported as the installed package.
    here = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != here]
    from scamlens.cli import app

    app(["score", "--engine", "spark", *sys.argv[1:]], prog_name="scamlens score")
