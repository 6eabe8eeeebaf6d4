// recipient.mjs: the KMS stand-in's handling of Recipient (attestation
// documents). This is the one place the Nitro work plugs in later: verify
// the COSE_Sign1 attestation document against a configured root, return its
// PCRs as policy condition keys and its public key, and wrap plaintext for
// the enclave as CMS EnvelopedData (RSAES-OAEP-SHA-256 + AES-256-CBC), as
// real KMS does (reference/nitro-kms.md sections 2.3 and 3.4).
//
// Until then a Recipient is checked for shape only and then refused with a
// clear error, so nothing can pass the attestation conditions of a key
// policy by accident.

export const MAX_ATTESTATION_DOC = 262144;

// Returns { ok: true, conditions: {...}, publicKeyDer } or
// { ok: false, type, message }.
export function verifyRecipient(recipient) {
  if (typeof recipient !== 'object' || recipient === null)
    return { ok: false, type: 'ValidationException', message: 'Recipient must be an object' };
  if (recipient.KeyEncryptionAlgorithm !== 'RSAES_OAEP_SHA_256')
    return { ok: false, type: 'ValidationException',
      message: "Recipient.KeyEncryptionAlgorithm must be 'RSAES_OAEP_SHA_256'" };
  const doc = recipient.AttestationDocument;
  if (typeof doc !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(doc) || doc.length % 4 !== 0)
    return { ok: false, type: 'ValidationException', message: 'Recipient.AttestationDocument must be base64' };
  const bytes = Buffer.from(doc, 'base64');
  if (bytes.length === 0 || bytes.length > MAX_ATTESTATION_DOC)
    return { ok: false, type: 'ValidationException', message: 'Recipient.AttestationDocument has a bad length' };
  return { ok: false, type: 'ValidationException',
    message: 'Recipient: attestation verification is not implemented in this stand-in yet' };
}

// Wraps plaintext for the attested public key (CMS EnvelopedData). Not
// reachable until verifyRecipient accepts documents.
export function wrapForRecipient(_plaintext, _attested) {
  throw new Error('wrapForRecipient: not implemented yet');
}
