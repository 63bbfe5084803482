#!/usr/bin/env bash
# mkcerts.sh DIR: make throw-away test certificates (ECDSA P-256, 30 days).
#   ca.pem ca.key                 test CA
#   sink.pem sink.key             CN=sluice-sink, SAN DNS:localhost,
#                                 IP:127.0.0.1, IP:10.77.0.2 (serverAuth)
#   agent.pem agent.key           CN=sluice-agent (clientAuth)
#   other-ca.pem other-ca.key     an unrelated CA
#   other-agent.pem other-agent.key  CN=sluice-agent signed by other-ca
# mkcerts.sh --agent DIR ID: one more agent certificate, agent-ID.pem and
#   agent-ID.key, CN=ID (the sink takes an agent's identity from its CN),
#   signed by DIR/ca (made by the first form).
# mkcerts.sh --receiver DIR CN [CA]: a pull receiver's certificate (route
#   job: the job's receiver is the TLS server of the pull session),
#   receiver-CN.pem and receiver-CN.key, CN=CN, serverAuth and clientAuth,
#   signed by DIR/CA (default ca; other-ca makes one the agent must refuse).
# Idempotent (overwrites), quiet, keys mode 0600.  Never commit the output:
# tests generate certificates at run time.
set -euo pipefail

agent_id=
recv_cn=
recv_ca=ca
if [ "${1:-}" = --receiver ]; then
	[ $# -eq 3 ] || [ $# -eq 4 ] || { echo "usage: $0 --receiver DIR CN [CA]" >&2; exit 2; }
	recv_cn=$3
	recv_ca=${4:-ca}
	set -- "$2"
elif [ "${1:-}" = --agent ]; then
	[ $# -eq 3 ] || { echo "usage: $0 --agent DIR ID" >&2; exit 2; }
	agent_id=$3
	set -- "$2"
fi
[ $# -eq 1 ] || { echo "usage: $0 DIR | $0 --agent DIR ID" >&2; exit 2; }
dir=$1
mkdir -p "$dir"
cd "$dir"
umask 077
tmp=$(mktemp -d "./.mkcerts.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

newkey() {	# newkey FILE
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
	    -out "$1" 2>/dev/null
	chmod 0600 "$1"
}

mkca() {	# mkca NAME CN
	newkey "$1.key"
	openssl req -x509 -new -key "$1.key" -sha256 -days 30 \
	    -subj "/O=sluice test/CN=$2" \
	    -addext "basicConstraints=critical,CA:TRUE" \
	    -addext "keyUsage=critical,keyCertSign,cRLSign" \
	    -addext "subjectKeyIdentifier=hash" \
	    -out "$1.pem" 2>/dev/null
}

mkleaf() {	# mkleaf NAME CA CN EXTFILE
	newkey "$1.key"
	openssl req -new -key "$1.key" -subj "/O=sluice test/CN=$3" \
	    -out "$tmp/$1.csr" 2>/dev/null
	openssl x509 -req -in "$tmp/$1.csr" -CA "$2.pem" -CAkey "$2.key" \
	    -set_serial "0x$(openssl rand -hex 8)" -days 30 -sha256 \
	    -extfile "$4" -out "$1.pem" 2>/dev/null
}

cat > "$tmp/server.ext" <<'EXT'
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth,clientAuth
subjectAltName=DNS:localhost,IP:127.0.0.1,IP:10.77.0.2
authorityKeyIdentifier=keyid
EXT
cat > "$tmp/client.ext" <<'EXT'
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth
authorityKeyIdentifier=keyid
EXT

if [ -n "$recv_cn" ]; then
	mkleaf "receiver-$recv_cn" "$recv_ca" "$recv_cn" "$tmp/server.ext"
	chmod 0644 "receiver-$recv_cn.pem"
	exit 0
fi
if [ -n "$agent_id" ]; then
	mkleaf "agent-$agent_id" ca "$agent_id" "$tmp/client.ext"
	chmod 0644 "agent-$agent_id.pem"
	exit 0
fi

mkca ca "sluice test CA"
mkleaf sink ca sluice-sink "$tmp/server.ext"
mkleaf agent ca sluice-agent "$tmp/client.ext"
mkca other-ca "sluice other CA"
mkleaf other-agent other-ca sluice-agent "$tmp/client.ext"
chmod 0644 ./*.pem
chmod 0600 ./*.key
