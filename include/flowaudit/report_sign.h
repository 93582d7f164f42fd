/*
 * report_sign.h - signed reports: MANIFEST.sha256.sig, an Ed25519
 * signature over the exact bytes of a report's MANIFEST.sha256, made and
 * checked with OpenSSL 3's libcrypto.
 *
 * The signature file is text, five lines (docs/security.md):
 *
 *   flowaudit-signature/1
 *   algorithm ed25519
 *   key SHA256:<64 hex: SHA-256 of the signer's public key, DER SubjectPublicKeyInfo>
 *   manifest SHA256:<64 hex: SHA-256 of MANIFEST.sha256>
 *   signature <88 characters: the 64-byte signature in base64>
 *
 * The signature covers MANIFEST.sha256 and nothing else; the manifest in
 * turn names the digest of every file of the report and of every input.
 * The key and manifest lines say who signed what; they are checked
 * against the key given and the manifest found, and the signature decides.
 *
 * Keys come from PEM files as `openssl genpkey -algorithm ed25519` and
 * `openssl pkey -pubout` write them. A private key file that its group or
 * others may read is refused (like ssh); encrypted PEM is not read. No
 * message ever holds key material. report_key_load_*() hand the caller a
 * key it owns (report_key_free(); NULL is a no-op).
 */
#ifndef FLOWAUDIT_REPORT_SIGN_H
#define FLOWAUDIT_REPORT_SIGN_H

#include "flowaudit/common.h"

#define REPORT_SIG_NAME "MANIFEST.sha256.sig"
#define REPORT_SIG_SCHEMA "flowaudit-signature/1"
#define REPORT_KEY_FILE_MAX (16 * 1024)  /* a PEM key file larger than this is refused */
#define REPORT_SIG_FILE_MAX 4096         /* and a signature file */
#define REPORT_SIGNED_MAX (256ULL << 20) /* a manifest larger than this is not signed or checked */

struct report_key;

/* An Ed25519 private key (PEM, PKCS#8). FA_EINPUT naming the file when it
   cannot be read, is readable by group or others, is encrypted, or holds no
   Ed25519 private key. */
int report_key_load_private(const char *path, struct report_key **out, struct fa_err *err);
/* An Ed25519 public key (PEM SubjectPublicKeyInfo); FA_EINPUT as above. */
int report_key_load_public(const char *path, struct report_key **out, struct fa_err *err);
void report_key_free(struct report_key *k);
/* "SHA256:<64 hex>", the SHA-256 of the key's public half in DER. */
const char *report_key_fingerprint(const struct report_key *k);

/*
 * Signs outdir/MANIFEST.sha256 with k (a private key) and writes
 * outdir/MANIFEST.sha256.sig (through a temporary file and a rename).
 * FA_EINPUT when the manifest is missing; FA_ERUNTIME on a read, write or
 * libcrypto failure.
 */
int report_sign_manifest(const char *outdir, const struct report_key *k, struct fa_err *err);

enum report_sig_verdict {
	REPORT_SIG_VALID = 0,
	REPORT_SIG_MISSING,   /* no MANIFEST.sha256.sig (or no manifest) */
	REPORT_SIG_MALFORMED, /* not a signature file flowaudit writes */
	REPORT_SIG_OTHER_KEY, /* made with another key than the one given */
	REPORT_SIG_MISMATCH,  /* the manifest is not the one signed */
	REPORT_SIG_INVALID,   /* the signature does not verify */
};

/* What a signature file says, read without checking. */
struct report_sig_info {
	char key[72];      /* "SHA256:<hex>" as the file names the signer */
	char manifest[72]; /* "SHA256:<hex>" as the file names the manifest */
	char actual[72];   /* "SHA256:<hex>" of the manifest found ("" when none) */
};

/*
 * Checks outdir's signature with k (a public key, or a private key's
 * public half). *verdict says what was found; err says it in words for
 * every verdict but VALID, naming the file, never key material. info is
 * filled as far as the file could be read. FA_OK when a verdict was
 * reached; FA_ERUNTIME when a file cannot be read or libcrypto fails.
 */
int report_sig_check(const char *outdir, const struct report_key *k,
		     enum report_sig_verdict *verdict, struct report_sig_info *info,
		     struct fa_err *err);

/* Reads outdir's signature file without a key: *verdict is VALID when it
   reads (nothing is verified), MISSING or MALFORMED. */
int report_sig_read(const char *outdir, enum report_sig_verdict *verdict,
		    struct report_sig_info *info, struct fa_err *err);

#endif
