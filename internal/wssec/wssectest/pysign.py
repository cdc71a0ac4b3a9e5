"""Signs a SOAP 1.1 envelope the way Python WS-Security clients do, with
Debian's python3-zeep and python3-xmlsec (libxmlsec1), for authgate's
interop tests. Usage: pysign.py MODE KEY.pem CERT.pem IN.xml OUT.xml

MODE names the key reference written into ds:KeyInfo:
  zeep-binary        zeep BinarySignature: BinarySecurityToken + wsse:Reference
  zeep-issuerserial  zeep Signature: STR/X509Data with X509IssuerSerial and X509Certificate
  ds-issuerserial    xmlsec template: KeyInfo/X509Data/X509IssuerSerial
  str-issuerserial   the same, the filled X509Data then moved into a STR (WSS4J's IssuerSerial)
  ds-ski             xmlsec template: KeyInfo/X509Data/X509SKI
  keyid-ski          STR/KeyIdentifier X509SubjectKeyIdentifier (as WSS4J computes it)
  keyid-thumbprint   STR/KeyIdentifier ThumbprintSHA1
  keyname            KeyInfo/KeyName (a form authgate refuses)
"""
import base64
import hashlib
import sys

import xmlsec
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from lxml import etree
from zeep import ns
from zeep.wsse.signature import BinarySignature, Signature
from zeep.wsse.utils import ensure_id

SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
B64 = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary"
SKI = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509SubjectKeyIdentifier"
THUMB = "http://docs.oasis-open.org/wss/oasis-wss-soap-message-security-1.1#ThumbprintSHA1"


def main():
    mode, key_file, cert_file, in_file, out_file = sys.argv[1:6]
    env = etree.parse(in_file).getroot()
    if mode in ("zeep-binary", "zeep-issuerserial"):
        cls = BinarySignature if mode == "zeep-binary" else Signature
        cls(key_file, cert_file, signature_method=xmlsec.Transform.RSA_SHA256,
            digest_method=xmlsec.Transform.SHA256).apply(env, {})
    else:
        sign_template(env, mode, key_file, cert_file)
    with open(out_file, "wb") as f:
        f.write(etree.tostring(env, xml_declaration=True, encoding="UTF-8"))


def sign_template(env, mode, key_file, cert_file):
    security = env.find("{%s}Header/{%s}Security" % (SOAP, ns.WSSE))
    sig = xmlsec.template.create(env, xmlsec.Transform.EXCL_C14N, xmlsec.Transform.RSA_SHA256)
    security.append(sig)
    ctx = xmlsec.SignatureContext()
    for node in (env.find("{%s}Body" % SOAP), security.find("{%s}Timestamp" % ns.WSU)):
        node_id = ensure_id(node)
        ctx.register_id(node, "Id", ns.WSU)
        ref = xmlsec.template.add_reference(sig, xmlsec.Transform.SHA256, uri="#" + node_id)
        xmlsec.template.add_transform(ref, xmlsec.Transform.EXCL_C14N)
    data = None
    if mode in ("ds-issuerserial", "str-issuerserial", "ds-ski"):
        data = xmlsec.template.add_x509_data(xmlsec.template.ensure_key_info(sig))
        if mode != "ds-ski":
            xmlsec.template.x509_data_add_issuer_serial(data)
        else:
            xmlsec.template.x509_data_add_ski(data)
    elif mode == "keyname":
        xmlsec.template.add_key_name(xmlsec.template.ensure_key_info(sig), "partner")
    key = xmlsec.Key.from_file(key_file, xmlsec.KeyFormat.PEM)
    key.load_cert_from_file(cert_file, xmlsec.KeyFormat.PEM)
    ctx.key = key
    ctx.sign(sig)
    if mode == "str-issuerserial":
        key_info = data.getparent()
        key_info.remove(data)
        etree.SubElement(key_info, "{%s}SecurityTokenReference" % ns.WSSE).append(data)
    if mode.startswith("keyid-"):
        with open(cert_file, "rb") as f:
            cert = x509.load_pem_x509_certificate(f.read())
        if mode == "keyid-ski":
            vt = SKI
            try:
                value = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
            except x509.ExtensionNotFound:
                value = x509.SubjectKeyIdentifier.from_public_key(cert.public_key()).digest
        else:
            vt, value = THUMB, hashlib.sha1(cert.public_bytes(Encoding.DER)).digest()
        str_ = etree.SubElement(xmlsec.template.ensure_key_info(sig), "{%s}SecurityTokenReference" % ns.WSSE)
        kid = etree.SubElement(str_, "{%s}KeyIdentifier" % ns.WSSE, ValueType=vt, EncodingType=B64)
        kid.text = base64.b64encode(value).decode()


if __name__ == "__main__":
    main()
