# Environment shared by scripts/test.sh, scripts/build-book.sh and CI (sourced, not run).
# Data folder (see README), quiet progress bars, and single-threaded BLAS: on 2 cores the
# chapters' many small linear-algebra calls run fastest on one thread, and a fixed thread count
# keeps every printed digit identical between the stored outputs and a re-run.
export LINDIFF_DATA_DIR="${LINDIFF_DATA_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/shared/data}"
export LINDIFF_PROGRESS="${LINDIFF_PROGRESS:-0}"
export OPENBLAS_NUM_THREADS="${OPENBLAS_NUM_THREADS:-1}"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
export MKL_NUM_THREADS="${MKL_NUM_THREADS:-1}"
