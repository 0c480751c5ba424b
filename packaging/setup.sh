#!/usr/bin/env bash
# Kinema's one setup script.  bash packaging/setup.sh app  -> install everything and open the studio
#                             bash packaging/setup.sh test -> install everything and run the test suite
#                             bash packaging/setup.sh install -> install everything, launch nothing (packaging/build.sh)
# It creates .venv/ in the checkout, installs PyTorch first (the 2.13.0 CPU wheel where there is no NVIDIA GPU,
# so pip never pulls a multi-GB CUDA build), the system libraries Qt needs (Debian/Ubuntu, when run as root),
# then Kinema itself. Running it again is quick: what is installed stays.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
mode="${1:-app}"
shift || true

pick_python() {
    for candidate in "${PYTHON:-}" python3.11 python3.12 python3.10 python3; do
        [ -n "$candidate" ] || continue
        if command -v "$candidate" >/dev/null 2>&1 &&
            "$candidate" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' 2>/dev/null; then
            echo "$candidate"
            return
        fi
    done
    echo "Kinema needs Python 3.10 or newer (set PYTHON=/path/to/python)" >&2
    exit 1
}

qt_system_libraries() {
    # Libraries PySide6 and vispy load at run time, and Xvfb for the UI tests (Debian/Ubuntu names).
    local packages="xvfb libgl1 libegl1 libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1
        libxcb-image0 libxcb-render-util0 libxcb-xinerama0 libxcb-shape0 libfontconfig1 libdbus-1-3 libglib2.0-0"
    command -v dpkg-query >/dev/null 2>&1 || return 0
    local missing=""
    for p in $packages; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
    done
    [ -z "$missing" ] && return 0
    if [ "$(id -u)" = 0 ]; then
        echo "installing system libraries for Qt:$missing"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
    else
        echo "Qt needs these system packages; please run: sudo apt-get install -y$missing" >&2
    fi
}

python_bin="$(pick_python)"
[ -x .venv/bin/python ] || "$python_bin" -m venv .venv
# shellcheck disable=SC1091
. .venv/bin/activate
export PIP_DISABLE_PIP_VERSION_CHECK=1

if ! python -c "import torch" >/dev/null 2>&1; then
    if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
        python -m pip install -q torch            # CUDA build for the local NVIDIA GPU
    else
        python -m pip install -q torch==2.13.0    # CPU wheel
    fi
fi
qt_system_libraries

case "$mode" in
    app)
        python -m pip install -q -e .
        exec kinema "$@"
        ;;
    install)
        python -m pip install -q -e .
        ;;
    test)
        python -m pip install -q -e ".[test]"
        lint-imports --no-cache >/dev/null || { lint-imports --no-cache; exit 1; }
        exec python -m pytest -q -p no:cacheprovider "$@"
        ;;
    *)
        echo "usage: bash packaging/setup.sh [app|test|install] [arguments for kinema or pytest]" >&2
        exit 2
        ;;
esac
