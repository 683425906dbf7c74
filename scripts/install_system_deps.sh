#!/usr/bin/env bash
# System packages the detectors read (called by `make setup`; idempotent, quiet when all is there):
# Debian's German Hunspell dictionaries in /usr/share/hunspell (de_DE, de_AT, de_CH and the medical
# add-on de_med; GPL-2+/GPL-3+, installed rather than shipped with this MIT package). As root it
# installs what is missing with apt-get; otherwise it prints the command to run and fails.
set -euo pipefail
DIR="${DEFINEMED_HUNSPELL_DIR:-/usr/share/hunspell}"
PKGS="hunspell-de-de hunspell-de-at hunspell-de-ch hunspell-de-med"
missing=0
for f in de_DE.dic de_DE.aff de_AT.dic de_AT.aff de_CH.dic de_CH.aff de_med.dic; do
  [ -f "$DIR/$f" ] || missing=1
done
[ "$missing" = 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get > /dev/null; then
  echo "install_system_deps: apt-get install $PKGS"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q $PKGS > /dev/null 2>&1 || { apt-get update -q > /dev/null && apt-get install -y -q $PKGS > /dev/null; }
else
  echo "install_system_deps: $DIR lacks the German Hunspell dictionaries; run as root: apt-get install -y $PKGS" >&2
  exit 1
fi
