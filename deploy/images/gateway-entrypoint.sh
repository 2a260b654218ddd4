#!/bin/sh
# Render nginx.conf for this container from the environment, then become nginx.
#   GATEWAY_UPSTREAMS="search=search:8101 auth=auth:8105 ..."  (default: the ports table on 127.0.0.1)
#   GATEWAY_LISTEN, GATEWAY_WORKERS, GATEWAY_TRUSTED_PROXIES="10.0.0.0/8 ...", GATEWAY_WAF_MODE
set -eu
prefix=${GATEWAY_PREFIX:-/tmp/nginx}
set --
for upstream in ${GATEWAY_UPSTREAMS:-}; do set -- "$@" --upstream "$upstream"; done
for cidr in ${GATEWAY_TRUSTED_PROXIES:-}; do set -- "$@" --trusted-proxy "$cidr"; done
python3 /opt/hotelbook/nginx/render.py --prefix "$prefix" --listen "$GATEWAY_LISTEN" \
    --workers "${GATEWAY_WORKERS:-auto}" --waf-mode "${GATEWAY_WAF_MODE:-block}" "$@" >/dev/null
# Logs go to the container's output (12-factor) when this user may open it again
# (a runtime's pipe usually; some runtimes hand over a root-owned terminal instead:
# then they stay in files under the prefix).
if (true >>/dev/stdout && true >>/dev/stderr) 2>/dev/null; then
    ln -sf /dev/stdout "$prefix/logs/access.log"
    ln -sf /dev/stderr "$prefix/logs/error.log"
fi
exec nginx -p "$prefix" -c nginx.conf -e stderr -g 'daemon off;'
