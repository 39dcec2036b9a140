"""A Google service-account key for local Vertex AI deployments (`make dev`, tests): a
fresh RSA key in the JSON shape Google issues, its tokens minted at `token_uri` (the
provider simulator's `/token`)."""

from __future__ import annotations


def service_account(
    token_uri: str, email: str = "gateway@local-project.iam.gserviceaccount.com"
) -> dict[str, str]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return {
        "type": "service_account",
        "project_id": email.partition("@")[2].split(".")[0],
        "client_email": email,
        "private_key": pem.decode(),
        "token_uri": token_uri,
    }
