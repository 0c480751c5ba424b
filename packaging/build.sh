#!/usr/bin/env bash
# Build Kinema's one-folder desktop application: dist/kinema/ (run dist/kinema/kinema), with a .desktop entry and
# an icon in dist/kinema/share/. Needs the environment `bash packaging/setup.sh` makes (it adds PyInstaller here).
# Usage: bash packaging/build.sh            (build into dist/kinema)
#        bash packaging/build.sh --install  (also install the desktop entry and icon for this user)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
[ -x .venv/bin/python ] || bash packaging/setup.sh install
. .venv/bin/activate
python -m pip install -q "pyinstaller>=6.10"
start=$(date +%s)
python -m PyInstaller --noconfirm --clean --log-level WARN --distpath dist --workpath build/pyinstaller \
    packaging/kinema.spec
mkdir -p dist/kinema/share/applications dist/kinema/share/icons/hicolor/256x256/apps
sed "s|@EXEC@|$(pwd)/dist/kinema/kinema|" packaging/linux/kinema.desktop >dist/kinema/share/applications/kinema.desktop
cp app/ui/assets/kinema.png dist/kinema/share/icons/hicolor/256x256/apps/kinema.png
echo "built dist/kinema in $(( $(date +%s) - start )) s: $(du -sh dist/kinema | cut -f1)"
if [ "${1:-}" = "--install" ]; then
    apps="${XDG_DATA_HOME:-$HOME/.local/share}"
    mkdir -p "$apps/applications" "$apps/icons/hicolor/256x256/apps"
    cp dist/kinema/share/applications/kinema.desktop "$apps/applications/"
    cp app/ui/assets/kinema.png "$apps/icons/hicolor/256x256/apps/"
    echo "installed the desktop entry in $apps/applications"
fi
