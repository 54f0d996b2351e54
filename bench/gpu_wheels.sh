#!/usr/bin/env bash
# Wheels that bench/gpu_generate.py needs on the device machine and its image lacks (or holds
# in another version): codeduel's own dependencies (pydantic, platformdirs) and the
# transformers version the CPU tests ran with. Run here, in the repo root, before the device
# run; .whl must be ignored (echo /.whl/ >> .git/info/exclude) and named in the run's carry.
set -euo pipefail
TF=$(python3 -c "import transformers; print(transformers.__version__)" 2>/dev/null || echo 5.24.0)
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
  --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
  --platform manylinux2014_x86_64 -d .whl \
  "transformers==$TF" pydantic==2.14.4 pydantic-core==2.50.5 annotated-types==0.8.0 \
  typing-inspection==0.4.5 platformdirs==4.14.8 regex==2026.11.19
ls -l .whl
