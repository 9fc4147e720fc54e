# Shared by scripts/*: installs missing Debian packages so a fresh machine works.
ensure_packages() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "==> installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}

ensure_swift() {
  if ! command -v swift >/dev/null 2>&1; then
    echo "swift is not on PATH: install Swift 6.2 or newer (https://www.swift.org/install/linux/) and retry" >&2
    exit 2
  fi
}
ensure_swift
