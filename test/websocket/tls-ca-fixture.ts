/**
 * A test CA with a server certificate (CN=localhost, DNS:localhost, IP:127.0.0.1) and a client
 * certificate (CN=wsbit-test-agent) signed by it, plus a self-signed "rogue" client certificate with the
 * same subject: for tls.verify_client. P-256, valid 100 years from 2026-12-05; the keys protect nothing.
 * Node cannot sign X.509 certificates, so they were made once with OpenSSL 3 and kept here:
 *
 *   for k in ca server client rogue; do openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out $k.key; done
 *   openssl req -x509 -new -key ca.key -subj /CN=wsbit-test-ca -days 36500 \
 *     -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign -out ca.crt
 *   printf '[server]\nbasicConstraints=CA:FALSE\nsubjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n[client]\nbasicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n' > ext.cnf
 *   openssl req -new -key server.key -subj /CN=localhost -out server.csr
 *   openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -set_serial 2 -days 36500 -extfile ext.cnf -extensions server -out server.crt
 *   openssl req -new -key client.key -subj /CN=wsbit-test-agent -out client.csr
 *   openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -set_serial 3 -days 36500 -extfile ext.cnf -extensions client -out client.crt
 *   openssl req -x509 -new -key rogue.key -subj /CN=wsbit-test-agent -days 36500 -out rogue.crt
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';

export const CA_CERT_PEM = `-----BEGIN CERTIFICATE-----
MIIBlzCCAT2gAwIBAgIUBUDQiDmXE7q4VUNgyL5hRdvUmDwwCgYIKoZIzj0EAwIw
GDEWMBQGA1UEAwwNd3NiaXQtdGVzdC1jYTAgFw0yNjEyMDUxMTAyMjNaGA8yMTI2
MTExMTExMDIyM1owGDEWMBQGA1UEAwwNd3NiaXQtdGVzdC1jYTBZMBMGByqGSM49
AgEGCCqGSM49AwEHA0IABPHOX1W2IUwmxocA8IlI4gQ4GruZom1pWIKdNIsHoTBR
HnMuMow2ERBGXEJrzQs18EwIV7Hc7sLG/RP/DP0WJomjYzBhMB0GA1UdDgQWBBRy
MhM/Dlb9l6uSDLS/UU9d5jkWoDAfBgNVHSMEGDAWgBRyMhM/Dlb9l6uSDLS/UU9d
5jkWoDAPBgNVHRMBAf8EBTADAQH/MA4GA1UdDwEB/wQEAwIBBjAKBggqhkjOPQQD
AgNIADBFAiB+jz+wnl+xfRqVR5JKVROZnfFu7OZyJt3u4kiaQkYkFQIhALPrkUm4
1QjQYWqnM6UqOpz7WXRmrvomerJ6Ty6Yyaa2
-----END CERTIFICATE-----
`;

export const SERVER_CERT_PEM = `-----BEGIN CERTIFICATE-----
MIIBmzCCAUGgAwIBAgIBAjAKBggqhkjOPQQDAjAYMRYwFAYDVQQDDA13c2JpdC10
ZXN0LWNhMCAXDTI2MTIwNTExMDIyM1oYDzIxMjYxMTExMTEwMjIzWjAUMRIwEAYD
VQQDDAlsb2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAATaFsFBSdyc
HWCuG+B8qIh+Zn6gR6GKIRg8J8uRQRXK8TTkOGxLz1qV96Q3iVbWIzNbViYJ8How
vCZ1TWx3St7Wo34wfDAJBgNVHRMEAjAAMBoGA1UdEQQTMBGCCWxvY2FsaG9zdIcE
fwAAATATBgNVHSUEDDAKBggrBgEFBQcDATAdBgNVHQ4EFgQUleu4W2ZKVupP0QnS
HjBKSrtmJc0wHwYDVR0jBBgwFoAUcjITPw5W/Zerkgy0v1FPXeY5FqAwCgYIKoZI
zj0EAwIDSAAwRQIhALhxf8u8Hqsa0KBPU86Mh5ik/XrwdkSwK5EKCEuASPzSAiBo
EUPvLmzAIxoin5J2WmNPX/cyjZ5gKdoSr206Uy6i2A==
-----END CERTIFICATE-----
`;

export const SERVER_KEY_PEM = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgeNOravigBb3CpEsE
5cMHb38YZwUadsn6qmzyJwVqZLShRANCAATaFsFBSdycHWCuG+B8qIh+Zn6gR6GK
IRg8J8uRQRXK8TTkOGxLz1qV96Q3iVbWIzNbViYJ8HowvCZ1TWx3St7W
-----END PRIVATE KEY-----
`;

export const CLIENT_CERT_PEM = `-----BEGIN CERTIFICATE-----
MIIBhjCCASygAwIBAgIBAzAKBggqhkjOPQQDAjAYMRYwFAYDVQQDDA13c2JpdC10
ZXN0LWNhMCAXDTI2MTIwNTExMDIyM1oYDzIxMjYxMTExMTEwMjIzWjAbMRkwFwYD
VQQDDBB3c2JpdC10ZXN0LWFnZW50MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE
iyP2lH4zfvI/FvP3IlhzPnWU8j8gS/8PoFD+vZCibtAWBdsB4cadaa3zE6FgYleN
nsdk1wmzNwRRLWtiMaiNKqNiMGAwCQYDVR0TBAIwADATBgNVHSUEDDAKBggrBgEF
BQcDAjAdBgNVHQ4EFgQU0XCtJWcHfXdFHXT1fsSiRHKO90YwHwYDVR0jBBgwFoAU
cjITPw5W/Zerkgy0v1FPXeY5FqAwCgYIKoZIzj0EAwIDSAAwRQIhAIUQNFI+9xSb
OMLYj/IN79orYzo6adIMay1aeEX09yInAiBtdOdLr6ojGqXZxzv9be8DkDxigiIA
rGdfTk6YIRgpHw==
-----END CERTIFICATE-----
`;

export const CLIENT_KEY_PEM = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQggLOMloZbGsKDVfAL
hqmEUmFg38oUIuddkfR2w+vmseShRANCAASLI/aUfjN+8j8W8/ciWHM+dZTyPyBL
/w+gUP69kKJu0BYF2wHhxp1prfMToWBiV42ex2TXCbM3BFEta2IxqI0q
-----END PRIVATE KEY-----
`;

export const ROGUE_CERT_PEM = `-----BEGIN CERTIFICATE-----
MIIBjDCCATOgAwIBAgIUc6YG90/ZplG9uVcyYUasmnAHyUYwCgYIKoZIzj0EAwIw
GzEZMBcGA1UEAwwQd3NiaXQtdGVzdC1hZ2VudDAgFw0yNjEyMDUxMTAyMjNaGA8y
MTI2MTExMTExMDIyM1owGzEZMBcGA1UEAwwQd3NiaXQtdGVzdC1hZ2VudDBZMBMG
ByqGSM49AgEGCCqGSM49AwEHA0IABLDuseN2RmDwyNISSji34VQEJUN5K7hf2sm/
8gCJdE9QK73Vfdggu1Uvfq3amC8m9RreaY6TKdnVcqNc98kllHyjUzBRMB0GA1Ud
DgQWBBTRxqrFQxqexHMbEouiZFSB9S24LDAfBgNVHSMEGDAWgBTRxqrFQxqexHMb
EouiZFSB9S24LDAPBgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0cAMEQCIDcP
pPCTIWzpm1VnqhZnbaRZJUth06GnFCe8Laq5d9yyAiAgJoLS6Oto/YVRx2210Zwp
bdi5hXCTlboespqvRBD53g==
-----END CERTIFICATE-----
`;

export const ROGUE_KEY_PEM = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgLcucaZJzfTCrji/X
SfPMk+mc3Kq1n6GV8enr29NJP22hRANCAASw7rHjdkZg8MjSEko4t+FUBCVDeSu4
X9rJv/IAiXRPUCu91X3YILtVL36t2pgvJvUa3mmOkynZ1XKjXPfJJZR8
-----END PRIVATE KEY-----
`;

/** The files a config names (tls.crt_file, tls.key_file, tls.ca_file), written into `dir`. */
export function writeTestPki(dir: string): { ca: string; serverCert: string; serverKey: string } {
  const file = (name: string, pem: string): string => {
    const target = path.join(dir, name);
    writeFileSync(target, pem);
    return target;
  };
  return { ca: file('ca.crt', CA_CERT_PEM), serverCert: file('server.crt', SERVER_CERT_PEM), serverKey: file('server.key', SERVER_KEY_PEM) };
}
