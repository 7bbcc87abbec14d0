#!/bin/sh
# A stand-in for RAUC's `rauc` command line, the seam where the OS begins
# (tests/redfish_update.rs, ci/redfish-validate.sh). Copied into a directory
# of its own; files beside it say what it does:
#   status.json   what `rauc status --detailed --output-format=json` prints
#                 (missing: it fails as rauc does without rauc-service)
#   install-mode  "ok" (default) or "fail" (a signature error)
#   install-sleep seconds `rauc install` takes (default 0)
# Every install appends "<file> <size>" to installed.log, read while the
# file still exists.
here=$(dirname "$0")
case "$1" in
status)
    if [ -f "$here/status.json" ]; then
        cat "$here/status.json"
    else
        echo "rauc-Message: Failed to obtain status: The name de.pengutronix.rauc was not provided by any .service files" >&2
        exit 1
    fi
    ;;
install)
    bundle=$2
    if [ ! -f "$bundle" ]; then
        echo "LastError: Failed to open bundle: $bundle does not exist" >&2
        exit 1
    fi
    echo "$bundle $(wc -c < "$bundle")" >> "$here/installed.log"
    echo "installing"
    echo "  0% Installing"
    echo " 20% Checking bundle"
    sleep "$(cat "$here/install-sleep" 2>/dev/null || echo 0)"
    if [ "$(cat "$here/install-mode" 2>/dev/null)" = fail ]; then
        echo " 40% Checking bundle failed."
        echo "100% Installing failed."
        echo "LastError: Failed verifying signature: signature verification failed: certificate signature failure" >&2
        echo "Installing \`$bundle' failed" >&2
        exit 1
    fi
    echo " 40% Copying image to rootfs.1"
    echo "100% Installing done."
    echo "idle"
    echo "Installing \`$bundle' succeeded"
    ;;
*)
    echo "rauc stand-in: unsupported command $*" >&2
    exit 2
    ;;
esac
