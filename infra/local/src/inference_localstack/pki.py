"""Credentials of the local stack, generated once per state folder and kept (mode 0600):
a CA and the apiserver's serving certificate, the service-account key pair, one bearer
token per control-plane identity, and the Postgres and MinIO passwords."""

from __future__ import annotations

import json
import secrets
import subprocess
from dataclasses import dataclass
from pathlib import Path

import yaml

from inference_localstack.config import StackConfig

# identity -> (user name, groups) in the apiserver's token file
IDENTITIES: dict[str, tuple[str, list[str]]] = {
    "admin": ("local-admin", ["system:masters"]),
    "controller-manager": ("system:kube-controller-manager", []),
    "scheduler": ("system:kube-scheduler", []),
    "kwok": ("local:kwok", []),
    "traefik": ("local:traefik", []),
    "node-runtime": ("local:node-runtime", []),
    "api": ("local:inference-api", []),
    "gateway": ("local:inference-gateway", []),
    "contract": ("local:inference-contract", []),
    "prometheus": ("local:prometheus", []),
    # The operator's own ServiceAccount name, so deploy/operator/rbac.yaml binds it as is.
    "operator": (
        "system:serviceaccount:inference-system:modelserve-operator",
        ["system:serviceaccounts"],
    ),
}


@dataclass(frozen=True)
class Secrets:
    tokens: dict[str, str]
    postgres_password: str
    """The Postgres superuser's; only the stack's own set-up and test fixtures use it."""
    postgres_app_password: str
    """The application role's (`inference`), the one in DATABASE_URL."""
    minio_user: str
    minio_password: str
    jwt_secret: str
    admin_password: str
    server_uuid_key: str
    """HMAC key of the server uuids the API issues (the API signs, the operator checks)."""
    minio_operator_password: str = ""
    minio_api_password: str = ""
    """Passwords of the scoped MinIO users of the operator and the API (object_store_users)."""
    quant_minio_user: str = "quant-admin"
    quant_minio_password: str = ""
    """Root credentials of the second MinIO, which stands for the quantization cluster."""
    alert_webhook_token: str = ""
    """Bearer token Alertmanager sends to the API's alert receiver."""


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def _write_private(path: Path, text: str) -> None:
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_text(text)


def apiserver_sans(config: StackConfig) -> list[str]:
    net = config.network
    dns = [
        "localhost",
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        "kubernetes.default.svc.cluster.local",
    ]
    ips = ["127.0.0.1", net.kubernetes_service_ip, net.host_node_ip]
    return [f"DNS:{d}" for d in dns] + [f"IP:{i}" for i in ips]


def ensure_certificates(config: StackConfig) -> None:
    pki = config.pki_dir
    pki.mkdir(parents=True, exist_ok=True)
    pki.chmod(0o700)
    if not (pki / "ca.crt").exists():
        _openssl(
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "3650",
            "-subj",
            "/CN=inference-local-ca",
            "-keyout",
            str(pki / "ca.key"),
            "-out",
            str(pki / "ca.crt"),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        )
    _signed_by_ca(pki, "apiserver", "/CN=kube-apiserver", _serving(apiserver_sans(config)))
    if not (pki / "sa.key").exists():
        _openssl(
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
            str(pki / "sa.key"),
        )
        _openssl("pkey", "-in", str(pki / "sa.key"), "-pubout", "-out", str(pki / "sa.pub"))
    ensure_kubelet_certificates(config)
    for key in pki.glob("*.key"):
        key.chmod(0o600)


def ensure_serving_certificate(config: StackConfig, name: str, sans: list[str]) -> None:
    """`pki/<name>.{crt,key}` signed by the stack's CA, once (needs ensure_certificates)."""
    _signed_by_ca(config.pki_dir, name, f"/CN={name}", _serving(sans))


def _serving(sans: list[str]) -> str:
    """The extensions of a server certificate for `sans`."""
    return (
        "subjectAltName=" + ",".join(sans) + "\n"
        "extendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
    )


CONTRACT_WEBHOOK_CERT = "contract-webhook"
"""The contract service's webhook listener (the apiserver dials https://127.0.0.1:…)."""


def ensure_secrets(config: StackConfig) -> Secrets:
    path = config.pki_dir / "secrets.json"
    data = json.loads(path.read_text()) if path.exists() else {}
    generated = {
        "postgres_password": secrets.token_urlsafe(24),
        "postgres_app_password": secrets.token_urlsafe(24),
        "minio_user": "inference-admin",
        "minio_password": secrets.token_urlsafe(24),
        "minio_operator_password": secrets.token_urlsafe(24),
        "minio_api_password": secrets.token_urlsafe(24),
        "jwt_secret": secrets.token_urlsafe(48),
        "admin_password": secrets.token_urlsafe(18),
        "server_uuid_key": secrets.token_urlsafe(48),
        "quant_minio_user": "quant-admin",
        "quant_minio_password": secrets.token_urlsafe(24),
        "alert_webhook_token": secrets.token_urlsafe(32),
    }
    # Keys added by newer versions of the stack are generated into an existing state folder.
    before = json.dumps(data, sort_keys=True)
    for key, value in generated.items():
        data.setdefault(key, value)
    tokens = data.setdefault("tokens", {})
    for name in IDENTITIES:
        tokens.setdefault(name, secrets.token_urlsafe(32))
    if json.dumps(data, sort_keys=True) != before:
        _write_private(path, json.dumps(data, indent=2))
    token_lines = [
        f'{data["tokens"][name]},{user},{user},"{",".join(groups)}"'
        for name, (user, groups) in IDENTITIES.items()
    ]
    token_file = config.pki_dir / "tokens.csv"
    token_text = "\n".join(token_lines) + "\n"
    if not token_file.exists() or token_file.read_text() != token_text:
        _write_private(token_file, token_text)
    return Secrets(
        tokens=data["tokens"],
        postgres_password=data["postgres_password"],
        postgres_app_password=data["postgres_app_password"],
        minio_user=data["minio_user"],
        minio_password=data["minio_password"],
        minio_operator_password=data["minio_operator_password"],
        minio_api_password=data["minio_api_password"],
        jwt_secret=data["jwt_secret"],
        admin_password=data["admin_password"],
        server_uuid_key=data["server_uuid_key"],
        quant_minio_user=data["quant_minio_user"],
        quant_minio_password=data["quant_minio_password"],
        alert_webhook_token=data["alert_webhook_token"],
    )


def kubeconfig_document(server: str, ca_file: Path, user: str, token: str) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "local", "cluster": {"server": server, "certificate-authority": str(ca_file)}}
        ],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [{"name": "local", "context": {"cluster": "local", "user": user}}],
        "current-context": "local",
    }


def write_kubeconfigs(config: StackConfig, creds: Secrets) -> None:
    server = f"https://127.0.0.1:{config.ports.apiserver}"
    for name in IDENTITIES:
        doc = kubeconfig_document(server, config.pki_dir / "ca.crt", name, creds.tokens[name])
        path = config.kubeconfig if name == "admin" else config.pki_dir / f"{name}.kubeconfig"
        _write_private(path, yaml.safe_dump(doc, sort_keys=False))


ETCD_SERVER = "etcd-server"
ETCD_CLIENT = "etcd-client"


def etcd_sans() -> list[str]:
    return ["DNS:localhost", "IP:127.0.0.1"]


def _signed_by_ca(pki: Path, name: str, subject: str, extensions: str) -> None:
    """`<name>.key` and `<name>.crt`, signed by the stack's CA, unless they exist."""
    if (pki / f"{name}.crt").exists():
        return
    csr, ext = pki / f"{name}.csr", pki / f"{name}.ext"
    key, crt = pki / f"{name}.key", pki / f"{name}.crt"
    _openssl(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        subject,
        "-keyout",
        str(key),
        "-out",
        str(csr),
    )
    ext.write_text(extensions)
    ca = ("-CA", str(pki / "ca.crt"), "-CAkey", str(pki / "ca.key"), "-CAcreateserial")
    _openssl(
        "x509",
        "-req",
        "-in",
        str(csr),
        *ca,
        "-days",
        "3650",
        "-out",
        str(crt),
        "-extfile",
        str(ext),
    )
    key.chmod(0o600)


def ensure_etcd_certificates(config: StackConfig) -> None:
    """etcd's serving (and peer) certificate, and the client certificate the apiserver and
    the stack's health checks present: etcd accepts no client without one."""
    pki = config.pki_dir
    usage = "keyUsage=critical,digitalSignature,keyEncipherment\n"
    _signed_by_ca(
        pki,
        ETCD_SERVER,
        "/CN=etcd",
        "subjectAltName=" + ",".join(etcd_sans()) + "\n"
        "extendedKeyUsage=serverAuth,clientAuth\n" + usage,
    )
    _signed_by_ca(
        pki, ETCD_CLIENT, "/CN=kube-apiserver-etcd-client", "extendedKeyUsage=clientAuth\n" + usage
    )


def etcd_client_cert(config: StackConfig) -> tuple[Path, Path]:
    pki = config.pki_dir
    return pki / f"{ETCD_CLIENT}.crt", pki / f"{ETCD_CLIENT}.key"


KUBELET_SERVING = "kubelet"
KUBELET_CLIENT = "apiserver-kubelet-client"
KUBELET_CLIENT_CN = "kube-apiserver-kubelet-client"
"""The identity the apiserver presents to kubelets; the local kubelet serves only it."""


def kubelet_sans(config: StackConfig) -> list[str]:
    return ["DNS:localhost", "IP:127.0.0.1"]


def ensure_kubelet_certificates(config: StackConfig) -> None:
    """The local kubelet's serving certificate (for the address the Node advertises) and
    the client certificate the apiserver presents to kubelets (`kubectl logs`)."""
    pki = config.pki_dir
    usage = "keyUsage=critical,digitalSignature,keyEncipherment\n"
    _signed_by_ca(
        pki,
        KUBELET_SERVING,
        f"/CN={config.local_node_name}",
        "subjectAltName=" + ",".join(kubelet_sans(config)) + "\n"
        "extendedKeyUsage=serverAuth\n" + usage,
    )
    _signed_by_ca(
        pki,
        KUBELET_CLIENT,
        f"/O=system:masters/CN={KUBELET_CLIENT_CN}",
        "extendedKeyUsage=clientAuth\n" + usage,
    )


def kubelet_client_cert(config: StackConfig) -> tuple[Path, Path]:
    pki = config.pki_dir
    return pki / f"{KUBELET_CLIENT}.crt", pki / f"{KUBELET_CLIENT}.key"


def kubelet_serving_cert(config: StackConfig) -> tuple[Path, Path]:
    pki = config.pki_dir
    return pki / f"{KUBELET_SERVING}.crt", pki / f"{KUBELET_SERVING}.key"
