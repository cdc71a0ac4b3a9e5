# Sourced by test.sh: installs the external programs the test suite drives.
# Each step is skipped when the program is already there.

apt_install() {
	if [ "$(id -u)" -ne 0 ]; then
		echo "need root (or the packages preinstalled): $*" >&2
		return 1
	fi
	if [ -z "${_APT_UPDATED:-}" ]; then
		DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
		_APT_UPDATED=1
	fi
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

install_test_deps() {
	local pkgs=()
	[ -x /usr/lib/postgresql/15/bin/postgres ] || ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || pkgs+=(postgresql)
	command -v openssl >/dev/null || pkgs+=(openssl)
	command -v curl >/dev/null || pkgs+=(curl ca-certificates)
	# TPV: the vendor's PHP sample runs under Debian's php-cli and uses curl_init.
	command -v php >/dev/null || pkgs+=(php-cli)
	{ command -v php >/dev/null && php -m 2>/dev/null | grep -qix curl; } || pkgs+=(php-curl)
	# M2M: xmlsec1 verifies authgate's WS-Security signatures; node-soap (npm) signs requests.
	command -v xmlsec1 >/dev/null || pkgs+=(xmlsec1)
	command -v npm >/dev/null || pkgs+=(nodejs npm)
	# M2M: python3-zeep and python3-xmlsec sign requests with each WS-Security key reference form.
	/usr/bin/python3 -c "import zeep, xmlsec, cryptography" 2>/dev/null || pkgs+=(python3-zeep python3-xmlsec python3-cryptography)
	# TAAP: the PoP builder page is driven in headless Chromium (chromedp).
	command -v chromium >/dev/null || pkgs+=(chromium)
	command -v chromedriver >/dev/null || pkgs+=(chromium-driver)
	# Gateway forward-auth: nginx (auth_request) and Caddy (forward_auth) run in
	# front of authgate in the tests; wrk drives bench/gateway.sh.
	{ [ -x /usr/sbin/nginx ] || command -v nginx >/dev/null; } || pkgs+=(nginx)
	command -v caddy >/dev/null || pkgs+=(caddy)
	command -v wrk >/dev/null || pkgs+=(wrk)
	# Packaging: systemd-analyze verifies deploy/authgate.service (internal/packaging).
	command -v systemd-analyze >/dev/null || pkgs+=(systemd)
	if [ ${#pkgs[@]} -gt 0 ]; then
		echo "installing: ${pkgs[*]}"
		apt_install "${pkgs[@]}"
	fi
	install_m2m_node_deps
	install_taap_node_deps
}

# install_m2m_node_deps installs node-soap (pinned by package-lock.json) for the M2M interop test.
install_m2m_node_deps() {
	local dir
	dir="$(dirname "${BASH_SOURCE[0]}")/../internal/protocol/m2m/testdata/nodesoap"
	[ -f "$dir/node_modules/soap/package.json" ] && return 0
	npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error >/dev/null
}

# install_taap_node_deps installs T-Mobile's PoP token builder (npm
# tmo-poptoken-builder, pinned by package-lock.json) for the TAAP interop test.
install_taap_node_deps() {
	local dir
	dir="$(dirname "${BASH_SOURCE[0]}")/../internal/protocol/taap/testdata/npm"
	[ -f "$dir/node_modules/tmo-poptoken-builder/poptoken-builder-node.js" ] && return 0
	npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error >/dev/null
}
