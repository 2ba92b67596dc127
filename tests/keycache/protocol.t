# protocol.t - the keycache protocol, one request per block, run in order against one fresh
# server (run_protocol.sh): tokens @RW@ (rw) and @RO@ (ro), --max-size 4K (so --max-value is
# 4K too), keys @K1@..@K9@ (128 hex digits each).
#
# Block:   === TITLE
#          request: METHOD PATH           (HEAD uses curl -I)
#          header: NAME: VALUE            (any number)
#          send: TEXT                     (body, printf %b escapes) | send-bytes: N ('x' * N)
#          curl: ARG                      (one more raw curl argument)
#          status: CODE
#          body: TEXT                     (exact, printf %b) | body-line: first line
#          body-has: TEXT | body-bytes: N | resp-header: NAME: VALUE | no-header: NAME

=== healthz needs no token
request: GET /healthz
status: 200
body: ok\n
resp-header: Content-Type: text/plain; charset=utf-8

=== healthz HEAD
request: HEAD /healthz
status: 200
resp-header: Content-Length: 3

=== healthz is read-only
request: PUT /healthz
header: Authorization: Bearer @RW@
send: x
status: 405
resp-header: Allow: GET, HEAD
body-line: method not allowed

=== GET without token
request: GET /ns/@K1@
status: 401
resp-header: WWW-Authenticate: Bearer
body-line: missing token: send Authorization: Bearer TOKEN

=== GET with a wrong token
request: GET /ns/@K1@
header: Authorization: Bearer not-a-token
status: 401
resp-header: WWW-Authenticate: Bearer
body-line: unknown token

=== Basic auth is not a token
request: GET /ns/@K1@
header: Authorization: Basic dXNlcjpwYXNz
status: 401
body-line: unknown token

=== a prefix of a token is not the token
request: GET /ns/@K1@
header: Authorization: Bearer rw-token
status: 401

=== miss
request: GET /ns/@K1@
header: Authorization: Bearer @RO@
status: 404
body: not found\n

=== HEAD miss
request: HEAD /ns/@K1@
header: Authorization: Bearer @RO@
status: 404

=== PUT without token
request: PUT /ns/@K1@
send: hello
status: 401
resp-header: WWW-Authenticate: Bearer

=== PUT with the ro token
request: PUT /ns/@K1@
header: Authorization: Bearer @RO@
send: hello
status: 403
body-line: read-only token cannot write

=== PUT stores a new entry
request: PUT /ns/@K1@
header: Authorization: Bearer @RW@
send: hello\0world\n
status: 201
body-bytes: 0

=== GET hit with the ro token, binary value
request: GET /ns/@K1@
header: Authorization: Bearer @RO@
status: 200
body: hello\0world\n
resp-header: Content-Type: application/octet-stream
resp-header: Content-Length: 12

=== GET hit with the rw token
request: GET /ns/@K1@
header: Authorization: Bearer @RW@
status: 200
body-bytes: 12

=== HEAD hit: length, no body
request: HEAD /ns/@K1@
header: Authorization: Bearer @RO@
status: 200
resp-header: Content-Length: 12
resp-header: Content-Type: application/octet-stream

=== same key in another namespace is another entry
request: GET /other.ns_1-x/@K1@
header: Authorization: Bearer @RO@
status: 404

=== PUT replaces
request: PUT /ns/@K1@
header: Authorization: Bearer @RW@
send: v2
status: 204

=== GET sees the new value
request: GET /ns/@K1@
header: Authorization: Bearer @RO@
status: 200
body: v2

=== empty value
request: PUT /ns/@K2@
header: Authorization: Bearer @RW@
send-bytes: 0
status: 201

=== GET empty value
request: GET /ns/@K2@
header: Authorization: Bearer @RO@
status: 200
resp-header: Content-Length: 0
body-bytes: 0

=== value of exactly --max-value fits the limit but not the store: 507
request: PUT /ns/@K3@
header: Authorization: Bearer @RW@
send-bytes: 4096
status: 507
body-line: store full: the value does not fit even after eviction

=== value over --max-value: 413 from the header
request: PUT /ns/@K3@
header: Authorization: Bearer @RW@
send-bytes: 4097
status: 413
body-line: value too large: longer than the server's --max-value

=== 413 without sending the body (Expect: 100-continue)
request: PUT /ns/@K3@
header: Authorization: Bearer @RW@
header: Expect: 100-continue
send-bytes: 100000
status: 413

=== a large value that fits
request: PUT /ns/@K3@
header: Authorization: Bearer @RW@
send-bytes: 3000
status: 201

=== and reads back
request: GET /ns/@K3@
header: Authorization: Bearer @RO@
status: 200
body-bytes: 3000

=== PUT without Content-Length
request: PUT /ns/@K4@
header: Authorization: Bearer @RW@
status: 411
body-line: length required: send Content-Length

=== chunked PUT
request: PUT /ns/@K4@
header: Authorization: Bearer @RW@
header: Transfer-Encoding: chunked
send: chunked body
status: 411
body-line: length required: chunked uploads are not accepted, send Content-Length

=== the rejected PUTs stored nothing
request: GET /ns/@K4@
header: Authorization: Bearer @RO@
status: 404

=== malformed key (short)
request: GET /ns/abc
header: Authorization: Bearer @RO@
status: 400
body-line: malformed path: key must be 128 lowercase hex digits

=== malformed key (upper case)
request: GET /ns/ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789
header: Authorization: Bearer @RO@
status: 400

=== malformed namespace
request: GET /n$s/@K1@
header: Authorization: Bearer @RO@
status: 400
body-line: malformed path: namespace must be 1 to 64 of A-Z a-z 0-9 . _ -

=== namespace too long
request: GET /aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/@K1@
header: Authorization: Bearer @RO@
status: 400

=== no key
request: GET /ns
header: Authorization: Bearer @RO@
status: 400
body-line: malformed path: expected /<namespace>/<key>

=== extra path component
request: GET /ns/@K1@/x
header: Authorization: Bearer @RO@
status: 400

=== a query string is ignored
request: GET /ns/@K1@?x=1
header: Authorization: Bearer @RO@
status: 200
body: v2

=== 401 before 400: no path information without a token
request: GET /bad
status: 401

=== POST is not allowed
request: POST /ns/@K1@
header: Authorization: Bearer @RW@
send: x
status: 405
resp-header: Allow: GET, HEAD, PUT, DELETE
body-line: method not allowed

=== OPTIONS is not allowed
request: OPTIONS /ns/@K1@
status: 405
resp-header: Allow: GET, HEAD, PUT, DELETE

=== DELETE with the ro token
request: DELETE /ns/@K1@
header: Authorization: Bearer @RO@
status: 403

=== DELETE
request: DELETE /ns/@K1@
header: Authorization: Bearer @RW@
status: 204

=== DELETE again: absent
request: DELETE /ns/@K1@
header: Authorization: Bearer @RW@
status: 404
body: not found\n

=== GET after DELETE
request: GET /ns/@K1@
header: Authorization: Bearer @RO@
status: 404

=== metrics need a token
request: GET /metrics
status: 401

=== metrics are read-only
request: DELETE /metrics
header: Authorization: Bearer @RW@
status: 405
resp-header: Allow: GET, HEAD

=== metrics with the ro token
request: GET /metrics
header: Authorization: Bearer @RO@
status: 200
resp-header: Content-Type: text/plain; version=0.0.4
body-has: # TYPE cloudm_keycache_requests_total counter
body-has: cloudm_keycache_requests_total{method="PUT",code="201"} 3
body-has: cloudm_keycache_requests_total{method="PUT",code="204"} 1
body-has: cloudm_keycache_requests_total{method="PUT",code="401"} 1
body-has: cloudm_keycache_requests_total{method="PUT",code="403"} 1
body-has: cloudm_keycache_requests_total{method="PUT",code="411"} 2
body-has: cloudm_keycache_requests_total{method="PUT",code="413"} 2
body-has: cloudm_keycache_requests_total{method="PUT",code="507"} 1
body-has: cloudm_keycache_requests_total{method="PUT",code="405"} 1
body-has: cloudm_keycache_requests_total{method="GET",code="200"} 7
body-has: cloudm_keycache_requests_total{method="GET",code="401"} 6
body-has: cloudm_keycache_requests_total{method="GET",code="400"} 6
body-has: cloudm_keycache_requests_total{method="GET",code="404"} 4
body-has: cloudm_keycache_requests_total{method="HEAD",code="200"} 2
body-has: cloudm_keycache_requests_total{method="HEAD",code="404"} 1
body-has: cloudm_keycache_requests_total{method="OTHER",code="405"} 2
body-has: cloudm_keycache_requests_total{method="DELETE",code="204"} 1
body-has: cloudm_keycache_requests_total{method="DELETE",code="403"} 1
body-has: cloudm_keycache_requests_total{method="DELETE",code="404"} 1
body-has: cloudm_keycache_requests_total{method="DELETE",code="405"} 1
body-has: cloudm_keycache_hits_total 7
body-has: cloudm_keycache_misses_total 5
body-has: cloudm_keycache_bytes_in_total 3014
body-has: cloudm_keycache_bytes_out_total 3028
body-has: cloudm_keycache_entries 2
body-has: cloudm_keycache_store_bytes 3262
body-has: cloudm_keycache_evictions_total 0
body-has: cloudm_keycache_expiries_total 0

=== metrics HEAD
request: HEAD /metrics
header: Authorization: Bearer @RO@
status: 200
resp-header: Content-Type: text/plain; version=0.0.4
