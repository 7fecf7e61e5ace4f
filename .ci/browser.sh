#!/bin/sh
# Makes sure a Chromium is available for the browser test (TestBrowser of example/ and
# echov5/example/, in internal/exampletest):
# installs Debian's chromium package with apt when none is found. It never fetches a
# browser that a tool downloads for itself.
set -eu

if [ -n "${ECHOSESS_CHROMIUM:-}" ]; then
	if [ -x "$ECHOSESS_CHROMIUM" ]; then
		echo "browser: $ECHOSESS_CHROMIUM (ECHOSESS_CHROMIUM)"
		exit 0
	fi
	echo "ECHOSESS_CHROMIUM=$ECHOSESS_CHROMIUM is not an executable" >&2
	exit 1
fi

for name in chromium chromium-browser google-chrome google-chrome-stable; do
	if path=$(command -v "$name"); then
		echo "browser: $path"
		exit 0
	fi
done

sudo=
if [ "$(id -u)" -ne 0 ]; then
	sudo=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update
$sudo apt-get install -y chromium
path=$(command -v chromium)
echo "browser: $path"
