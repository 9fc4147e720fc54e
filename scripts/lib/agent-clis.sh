# Installs the real agent CLIs the end-to-end tests run against muster's model stub, cached outside
# the clone under ${MUSTER_CACHE:-$HOME/.cache/muster}, and exports their paths:
#   MUSTER_TEST_CLAUDE  the Claude Code CLI bundled in the claude-agent-sdk wheel (pinned below)
#   MUSTER_TEST_AIDER   aider from aider-chat, in a virtualenv of its own
# Idempotent: a second call finds both in the cache and returns in milliseconds.
# Sourced by scripts/test (and scripts/bench); needs python3 with pip and venv (installed with apt
# when missing).

# claude-agent-sdk 0.2.189 bundles Claude Code 2.1.332 (its _cli_version.py).
MUSTER_CLAUDE_SDK_VERSION="0.2.189"
MUSTER_CLAUDE_CLI_VERSION="2.1.332"
MUSTER_AIDER_VERSION="0.86.2"

_muster_cache() { echo "${MUSTER_CACHE:-$HOME/.cache/muster}"; }

_ensure_python() {
  if ! command -v python3 >/dev/null 2>&1 || ! python3 -m pip --version >/dev/null 2>&1 \
     || ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
    ensure_packages python3 python3-pip python3-venv
  fi
}

# The Claude Code binary, unpacked from the wheel into claude-<cli version>/claude.
ensure_claude_cli() {
  local dir
  dir="$(_muster_cache)/claude-${MUSTER_CLAUDE_CLI_VERSION}"
  if [ ! -x "$dir/claude" ]; then
    _ensure_python
    echo "==> installing Claude Code ${MUSTER_CLAUDE_CLI_VERSION} (claude-agent-sdk ${MUSTER_CLAUDE_SDK_VERSION}) into $dir"
    local tmp
    tmp="$(mktemp -d "$(_muster_cache)/.claude-download.XXXXXX")"
    python3 -m pip download --quiet --no-deps --disable-pip-version-check \
      "claude-agent-sdk==${MUSTER_CLAUDE_SDK_VERSION}" -d "$tmp"
    python3 - "$tmp" <<'EOF'
import glob, os, sys, zipfile
folder = sys.argv[1]
wheel = glob.glob(os.path.join(folder, "claude_agent_sdk-*.whl"))[0]
with zipfile.ZipFile(wheel) as archive:
    with archive.open("claude_agent_sdk/_bundled/claude") as source, open(os.path.join(folder, "claude"), "wb") as target:
        while chunk := source.read(1 << 20):
            target.write(chunk)
EOF
    chmod +x "$tmp/claude"
    mkdir -p "$dir"
    mv "$tmp/claude" "$dir/claude.partial" && mv "$dir/claude.partial" "$dir/claude"
    rm -rf "$tmp"
  fi
  export MUSTER_TEST_CLAUDE="$dir/claude"
}

# aider in a virtualenv, aider-<version>/bin/aider.
ensure_aider_cli() {
  local dir
  dir="$(_muster_cache)/aider-${MUSTER_AIDER_VERSION}"
  if [ ! -x "$dir/bin/aider" ] || [ ! -f "$dir/.installed" ]; then
    _ensure_python
    echo "==> installing aider-chat ${MUSTER_AIDER_VERSION} into $dir (about half a minute)"
    rm -rf "$dir"
    python3 -m venv "$dir"
    "$dir/bin/python" -m pip install --quiet --disable-pip-version-check "aider-chat==${MUSTER_AIDER_VERSION}"
    touch "$dir/.installed"
  fi
  export MUSTER_TEST_AIDER="$dir/bin/aider"
}

ensure_agent_clis() {
  mkdir -p "$(_muster_cache)"
  ensure_claude_cli
  ensure_aider_cli
}
