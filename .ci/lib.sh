# Shared by the .ci scripts.

# build_dir DIR [cmake options...]: configure and build DIR with warnings as errors.
build_dir() {
  local dir=$1
  shift
  cmake -S . -B "$dir" -DPORTD_WERROR=ON "$@" >/dev/null
  cmake --build "$dir" -j "$(nproc)"
}

# run_suite DIR: every test registered with ctest in DIR.
run_suite() {
  echo "portd: running the tests in $1"
  ctest --test-dir "$1" --output-on-failure -j "$(nproc)"
}
