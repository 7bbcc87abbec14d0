#!/usr/bin/env bash
# Starts a throw-away OpenLDAP slapd on loopback for the auth tests.
#
#   start.sh DIR LDAP_PORT LDAPS_PORT
#
# Everything lives in DIR (created if missing): a test CA and server
# certificate made with openssl (DIR/tls/ca.pem is what clients trust), a
# generated slapd.conf (no cn=config, no debconf), an mdb database, the pid
# file. slapd listens on ldap://127.0.0.1:LDAP_PORT (StartTLS available) and
# ldaps://127.0.0.1:LDAPS_PORT. The memberof overlay is on, so user entries
# carry memberOf like Active Directory's. Stop it with stop.sh DIR.
#
# Directory (suffix dc=example,dc=org; every password is "<uid>-pw"):
#   cn=admin                      rootdn, password admin-pw
#   cn=svc,ou=services            service account for searches, svc-pw
#   uid=alice,ou=people           in cn=dcre-operators (groupOfNames)
#   uid=bob,ou=people             in cn=dcre-readers (groupOfNames)
#   uid=carol,ou=people           in no group
#   uid=dave,ou=people            in cn=legacy-readers (posixGroup memberUid)
#   uid=erin,ou=people            in both dcre-readers and dcre-operators
set -euo pipefail

DIR=${1:?usage: start.sh DIR LDAP_PORT LDAPS_PORT}
PORT=${2:?LDAP port}
SPORT=${3:?LDAPS port}
SLAPD=$(command -v slapd || echo /usr/sbin/slapd)
[ -x "$SLAPD" ] || { echo "slapd not installed: run ci/install-auth-peers.sh" >&2; exit 2; }
command -v ldapadd >/dev/null || { echo "ldap-utils not installed: run ci/install-auth-peers.sh" >&2; exit 2; }

mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
rm -rf "$DIR/db" "$DIR/tls"
mkdir -p "$DIR/db" "$DIR/tls"

# --- TLS material: a CA and a server certificate for 127.0.0.1/localhost ---
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj "/CN=opendcre test LDAP CA" -keyout "$DIR/tls/ca.key" -out "$DIR/tls/ca.pem" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -subj "/CN=127.0.0.1" -keyout "$DIR/tls/server.key" -out "$DIR/tls/server.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' > "$DIR/tls/ext.cnf"
openssl x509 -req -in "$DIR/tls/server.csr" -CA "$DIR/tls/ca.pem" -CAkey "$DIR/tls/ca.key" \
    -CAcreateserial -days 2 -extfile "$DIR/tls/ext.cnf" -out "$DIR/tls/server.pem" 2>/dev/null
chmod 600 "$DIR/tls/server.key" "$DIR/tls/ca.key"

hash() { slappasswd -h '{SSHA}' -s "$1"; }

cat > "$DIR/slapd.conf" <<CONF
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload memberof
pidfile $DIR/slapd.pid
argsfile $DIR/slapd.args
TLSCACertificateFile $DIR/tls/ca.pem
TLSCertificateFile $DIR/tls/server.pem
TLSCertificateKeyFile $DIR/tls/server.key

database mdb
maxsize 16777216
suffix "dc=example,dc=org"
rootdn "cn=admin,dc=example,dc=org"
rootpw $(hash admin-pw)
directory $DIR/db
overlay memberof
access to attrs=userPassword
    by self write
    by anonymous auth
    by * none
access to *
    by * read
CONF

cat > "$DIR/data.ldif" <<LDIF
dn: dc=example,dc=org
objectClass: dcObject
objectClass: organization
o: Example
dc: example

dn: ou=people,dc=example,dc=org
objectClass: organizationalUnit
ou: people

dn: ou=groups,dc=example,dc=org
objectClass: organizationalUnit
ou: groups

dn: ou=services,dc=example,dc=org
objectClass: organizationalUnit
ou: services

dn: cn=svc,ou=services,dc=example,dc=org
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: svc
userPassword: $(hash svc-pw)
LDIF
for u in alice bob carol dave erin; do
    cat >> "$DIR/data.ldif" <<LDIF

dn: uid=$u,ou=people,dc=example,dc=org
objectClass: inetOrgPerson
uid: $u
cn: $u
sn: $u
userPassword: $(hash "$u-pw")
LDIF
done
cat >> "$DIR/data.ldif" <<LDIF

dn: cn=dcre-operators,ou=groups,dc=example,dc=org
objectClass: groupOfNames
cn: dcre-operators
member: uid=alice,ou=people,dc=example,dc=org
member: uid=erin,ou=people,dc=example,dc=org

dn: cn=dcre-readers,ou=groups,dc=example,dc=org
objectClass: groupOfNames
cn: dcre-readers
member: uid=bob,ou=people,dc=example,dc=org
member: uid=erin,ou=people,dc=example,dc=org

dn: cn=legacy-readers,ou=groups,dc=example,dc=org
objectClass: posixGroup
cn: legacy-readers
gidNumber: 5000
memberUid: dave
LDIF

if [ -f "$DIR/slapd.pid" ] && kill -0 "$(cat "$DIR/slapd.pid")" 2>/dev/null; then
    kill "$(cat "$DIR/slapd.pid")" || true
    sleep 0.5
fi
rm -f "$DIR/slapd.pid"

"$SLAPD" -h "ldap://127.0.0.1:$PORT/ ldaps://127.0.0.1:$SPORT/" -f "$DIR/slapd.conf" \
    -n opendcre-test-slapd > "$DIR/slapd.log" 2>&1

for _ in $(seq 1 100); do
    if ldapsearch -x -H "ldap://127.0.0.1:$PORT" -o nettimeout=2 -s base -b "" namingContexts >/dev/null 2>&1; then
        break
    fi
    sleep 0.1
done
ldapadd -x -H "ldap://127.0.0.1:$PORT" -o nettimeout=5 -D "cn=admin,dc=example,dc=org" -w admin-pw \
    -f "$DIR/data.ldif" > "$DIR/ldapadd.log"

# The overlay must have filled memberOf, or the member_of tests mean nothing.
ldapsearch -x -LLL -H "ldap://127.0.0.1:$PORT" -o nettimeout=5 -b "ou=people,dc=example,dc=org" \
    "(uid=alice)" memberOf | grep -q "memberOf: cn=dcre-operators" \
    || { echo "memberof overlay did not work" >&2; exit 1; }
echo "slapd ready on 127.0.0.1:$PORT (ldaps $SPORT), pid $(cat "$DIR/slapd.pid")"
