#!/usr/bin/env bash
# The set-up and test commands, included by the home page (docs/index.*.md),
# and the commands that record measured results and run other torch releases,
# included by docs/evidence.*.md. README.md shows the same lines and .ci/run
# runs the `test` one; tests/test_promise.py checks that all three say exactly
# the same thing.

# --8<-- [start:serve]
python3 -m pip install -e ".[docs]" "torch==2.13.0"
python3 -m mkdocs serve -a 127.0.0.1:8000
# --8<-- [end:serve]

# --8<-- [start:test]
python3 -m pip install -e ".[test]" "torch==2.13.0" && python3 -m pytest
# --8<-- [end:test]

# --8<-- [start:build]
python3 -m mkdocs build --strict
# --8<-- [end:build]

# --8<-- [start:gpu]
python3 -m pytest -m gpu
# --8<-- [end:gpu]

# --8<-- [start:evidence]
python3 -m sitekit.tools.evidence --device cuda \
  --out docs/assets/evidence/gpu.json
# --8<-- [end:evidence]

# --8<-- [start:evidence_cpu]
python3 -m sitekit.tools.evidence --device cpu \
  --out docs/assets/evidence/cpu.json
# --8<-- [end:evidence_cpu]

# --8<-- [start:releases]
python3 -m pip install nox
python3 -m nox -f .ci/noxfile.py -s "pages(2.15.0)"
# --8<-- [end:releases]

# --8<-- [start:upgrade]
python3 -m pip install nox
python3 -m nox -f .ci/noxfile.py -s upgrade -- 2.16.0
# --8<-- [end:upgrade]
