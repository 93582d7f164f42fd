/*
 * report_sign.c - MANIFEST.sha256.sig: Ed25519 signatures over a report's
 * manifest, through OpenSSL 3's libcrypto (EVP_DigestSign and
 * EVP_DigestVerify with no digest: Ed25519 hashes the message itself).
 *
 * Receives a report directory and a PEM key; hands on the signature file,
 * or a verdict on one (report_sign.h has the format). Every file is read
 * whole through one bounded reader: key files up to REPORT_KEY_FILE_MAX,
 * signature files up to REPORT_SIG_FILE_MAX, manifests up to
 * REPORT_SIGNED_MAX. Key bytes read from a file are wiped before they are
 * freed, and no message quotes them.
 */
#include "flowaudit/report_sign.h"
#include "flowaudit/hash.h"
#include "flowaudit/manifest.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ED25519_SIG_LEN 64
#define SIG_B64_LEN 88 /* base64 of 64 bytes, with its "==" */

struct report_key {
	EVP_PKEY *pkey;
	bool has_private;
	char fingerprint[72]; /* "SHA256:<hex>" */
};

/* ---------------------------------------------------------------- files */

/*
 * Reads the file open on fd whole into a new buffer (NUL-terminated, the
 * NUL not counted). FA_EINPUT when it is larger than max; FA_ERUNTIME on a
 * read error or no memory.
 */
static int read_fd(int fd, const char *path, size_t max, char **out, size_t *len,
		   struct fa_err *err)
{
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		fa_err_set(err, "%s: not a regular file", path);
		return FA_EINPUT;
	}
	if ((unsigned long long)st.st_size > max) {
		fa_err_set(err, "%s: larger than %zu bytes; not a file flowaudit reads here", path, max);
		return FA_EINPUT;
	}
	size_t cap = (size_t)st.st_size + 1, n = 0;
	char *buf = malloc(cap);
	if (buf == NULL) {
		fa_err_set(err, "%s: out of memory", path);
		return FA_ERUNTIME;
	}
	for (;;) {
		if (n == cap - 1) {
			/* the file grew since fstat: one more byte tells */
			char extra;
			ssize_t r = read(fd, &extra, 1);
			if (r == 0)
				break;
			OPENSSL_cleanse(buf, n);
			free(buf);
			fa_err_set(err, "%s: changed while it was read", path);
			return r < 0 ? FA_ERUNTIME : FA_EINPUT;
		}
		ssize_t r = read(fd, buf + n, cap - 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			fa_err_set(err, "%s: cannot read: %s", path, strerror(errno));
			OPENSSL_cleanse(buf, n);
			free(buf);
			return FA_ERUNTIME;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return FA_OK;
}

/* Opens path and reads it (read_fd); FA_EINPUT, naming it, when absent. */
static int read_path(const char *path, size_t max, char **out, size_t *len, struct fa_err *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fa_err_set(err, "%s: %s", path, strerror(errno));
		return errno == ENOENT || errno == ENOTDIR || errno == EACCES ? FA_EINPUT
									      : FA_ERUNTIME;
	}
	int rc = read_fd(fd, path, max, out, len, err);
	close(fd);
	return rc;
}

static void free_wiped(char *buf, size_t len)
{
	if (buf != NULL) {
		OPENSSL_cleanse(buf, len);
		free(buf);
	}
}

static bool sha256_text(const void *data, size_t len, char out[72])
{
	uint8_t md[SHA256_DIGEST_LEN];
	unsigned int mdlen = 0;
	if (EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) != 1 ||
	    mdlen != SHA256_DIGEST_LEN)
		return false;
	memcpy(out, "SHA256:", 7);
	hash_hex(md, SHA256_DIGEST_LEN, out + 7);
	return true;
}

/* ---------------------------------------------------------------- keys */

/* Refuses to prompt: an encrypted key file is reported, not unlocked. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	*(bool *)u = true;
	return -1;
}

static int key_finish(struct report_key *k, const char *path, struct fa_err *err)
{
	if (EVP_PKEY_get_id(k->pkey) != EVP_PKEY_ED25519) {
		const char *type = EVP_PKEY_get0_type_name(k->pkey);
		fa_err_set(err, "%s: holds a%s %s key, not Ed25519 (make one with openssl genpkey "
			   "-algorithm ed25519)", path,
			   type && strchr("aeiouAEIOU", type[0]) ? "n" : "", type ? type : "other");
		return FA_EINPUT;
	}
	unsigned char *der = NULL;
	int n = i2d_PUBKEY(k->pkey, &der);
	bool ok = n > 0 && sha256_text(der, (size_t)n, k->fingerprint);
	OPENSSL_free(der);
	if (!ok) {
		fa_err_set(err, "%s: libcrypto cannot encode the public key", path);
		return FA_ERUNTIME;
	}
	return FA_OK;
}

static int key_load(const char *path, bool private_key, struct report_key **out,
		    struct fa_err *err)
{
	*out = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fa_err_set(err, "%s: %s", path, strerror(errno));
		return FA_EINPUT;
	}
	struct stat st;
	bool loose = private_key && fstat(fd, &st) == 0 && (st.st_mode & 077) != 0;
	char *buf;
	size_t len;
	int rc = read_fd(fd, path, REPORT_KEY_FILE_MAX, &buf, &len, err);
	close(fd);
	if (rc != FA_OK)
		return rc;
	struct report_key *k = calloc(1, sizeof(*k));
	BIO *bio = BIO_new_mem_buf(buf, (int)len);
	bool encrypted = false;
	if (k != NULL && bio != NULL)
		k->pkey = private_key ? PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, &encrypted)
				      : PEM_read_bio_PUBKEY(bio, NULL, no_passphrase, &encrypted);
	BIO_free(bio);
	free_wiped(buf, len);
	ERR_clear_error();
	if (k == NULL) {
		fa_err_set(err, "%s: out of memory", path);
		return FA_ERUNTIME;
	}
	if (k->pkey == NULL) {
		if (encrypted)
			fa_err_set(err, "%s: the key is encrypted; give an unencrypted PEM file "
				   "(openssl pkey -in KEY -out PLAIN.pem)", path);
		else if (private_key)
			fa_err_set(err, "%s: holds no PEM private key (make one with openssl genpkey "
				   "-algorithm ed25519 -out KEY.pem)", path);
		else
			fa_err_set(err, "%s: holds no PEM public key (write one with openssl pkey "
				   "-in KEY.pem -pubout -out PUB.pem)", path);
		free(k);
		return FA_EINPUT;
	}
	if (loose) {
		fa_err_set(err, "%s: the private key may be read or written by group or others "
			   "(mode %04o); chmod 600 it, and keep it out of reports and CI logs",
			   path, (unsigned)(st.st_mode & 07777));
		report_key_free(k);
		return FA_EINPUT;
	}
	k->has_private = private_key;
	rc = key_finish(k, path, err);
	if (rc != FA_OK) {
		report_key_free(k);
		return rc;
	}
	*out = k;
	return FA_OK;
}

int report_key_load_private(const char *path, struct report_key **out, struct fa_err *err)
{
	return key_load(path, true, out, err);
}

int report_key_load_public(const char *path, struct report_key **out, struct fa_err *err)
{
	return key_load(path, false, out, err);
}

void report_key_free(struct report_key *k)
{
	if (k == NULL)
		return;
	EVP_PKEY_free(k->pkey);
	free(k);
}

const char *report_key_fingerprint(const struct report_key *k)
{
	return k->fingerprint;
}

/* ---------------------------------------------------------------- signing */

static int read_manifest(const char *outdir, char **buf, size_t *len, struct fa_err *err)
{
	char path[PATH_MAX];
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", outdir, MANIFEST_NAME) >= sizeof(path)) {
		fa_err_set(err, "%s: path too long", outdir);
		return FA_EINPUT;
	}
	return read_path(path, REPORT_SIGNED_MAX, buf, len, err);
}

int report_sign_manifest(const char *outdir, const struct report_key *k, struct fa_err *err)
{
	if (!k->has_private) {
		fa_err_set(err, "signing needs a private key");
		return FA_EINPUT;
	}
	char *msg;
	size_t len;
	int rc = read_manifest(outdir, &msg, &len, err);
	if (rc != FA_OK)
		return rc;
	unsigned char sig[ED25519_SIG_LEN];
	size_t siglen = sizeof(sig);
	char digest[72];
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	bool ok = ctx != NULL && EVP_DigestSignInit(ctx, NULL, NULL, NULL, k->pkey) == 1 &&
		  EVP_DigestSign(ctx, sig, &siglen, (const unsigned char *)msg, len) == 1 &&
		  siglen == ED25519_SIG_LEN && sha256_text(msg, len, digest);
	EVP_MD_CTX_free(ctx);
	free(msg);
	ERR_clear_error();
	if (!ok) {
		fa_err_set(err, "%s/%s: libcrypto could not sign it", outdir, MANIFEST_NAME);
		return FA_ERUNTIME;
	}
	unsigned char b64[SIG_B64_LEN + 1];
	EVP_EncodeBlock(b64, sig, ED25519_SIG_LEN);

	char tmp[PATH_MAX], final[PATH_MAX];
	snprintf(tmp, sizeof(tmp), "%s/%s.tmp", outdir, REPORT_SIG_NAME);
	snprintf(final, sizeof(final), "%s/%s", outdir, REPORT_SIG_NAME);
	FILE *f = fopen(tmp, "w");
	if (f == NULL) {
		fa_err_set(err, "%s: cannot create: %s", tmp, strerror(errno));
		return FA_ERUNTIME;
	}
	fprintf(f, "%s\nalgorithm ed25519\nkey %s\nmanifest %s\nsignature %s\n", REPORT_SIG_SCHEMA,
		k->fingerprint, digest, (const char *)b64);
	if (ferror(f) | (fclose(f) != 0) || rename(tmp, final) != 0) {
		fa_err_set(err, "%s: cannot write: %s", final, strerror(errno));
		unlink(tmp);
		return FA_ERUNTIME;
	}
	return FA_OK;
}

/* ---------------------------------------------------------------- checking */

/* "SHA256:" and 64 lower-case hex digits, as the line holds it. */
static bool digest_field(const char *s, size_t n, char out[72])
{
	if (n != 7 + 64 || memcmp(s, "SHA256:", 7) != 0)
		return false;
	for (size_t i = 7; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	memcpy(out, s, n);
	out[n] = '\0';
	return true;
}

/*
 * The five lines of a signature file, each in its place: the schema, the
 * algorithm, the key, the manifest, the signature (base64 as
 * EVP_EncodeBlock writes it, decoding to 64 bytes).
 */
static bool parse_sig(const char *buf, size_t len, struct report_sig_info *info,
		      unsigned char sig[ED25519_SIG_LEN], const char **why)
{
	static const char *const heads[] = {REPORT_SIG_SCHEMA, "algorithm ed25519", "key ",
					    "manifest ", "signature "};
	const char *p = buf, *end = buf + len;
	if (strlen(buf) != len) {
		*why = "it holds a NUL byte";
		return false;
	}
	for (size_t i = 0; i < 5; i++) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t hl = strlen(heads[i]);
		if (nl == NULL || (size_t)(nl - p) < hl || memcmp(p, heads[i], hl) != 0) {
			*why = i == 1 ? "the algorithm line is not \"algorithm ed25519\""
				      : "a line is missing or out of its place";
			return false;
		}
		const char *v = p + hl;
		size_t vn = (size_t)(nl - v);
		if ((i == 0 || i == 1) && vn != 0) {
			*why = "a line is missing or out of its place";
			return false;
		}
		if ((i == 2 && !digest_field(v, vn, info->key)) ||
		    (i == 3 && !digest_field(v, vn, info->manifest))) {
			*why = "a key or manifest line is not SHA256:<64 hex digits>";
			return false;
		}
		if (i == 4) {
			unsigned char raw[SIG_B64_LEN];
			unsigned char again[SIG_B64_LEN + 1];
			if (vn != SIG_B64_LEN ||
			    EVP_DecodeBlock(raw, (const unsigned char *)v, SIG_B64_LEN) !=
				    ED25519_SIG_LEN + 2 ||
			    (EVP_EncodeBlock(again, raw, ED25519_SIG_LEN), memcmp(again, v, vn) != 0)) {
				*why = "the signature line is not 64 bytes in base64";
				return false;
			}
			memcpy(sig, raw, ED25519_SIG_LEN);
		}
		p = nl + 1;
	}
	if (p != end) {
		*why = "it goes on after the signature line";
		return false;
	}
	return true;
}

/* Reads and parses outdir's signature file; on MALFORMED or MISSING, err
   says why. */
static int sig_load(const char *outdir, enum report_sig_verdict *verdict,
		    struct report_sig_info *info, unsigned char sig[ED25519_SIG_LEN],
		    struct fa_err *err)
{
	char path[PATH_MAX];
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", outdir, REPORT_SIG_NAME) >= sizeof(path)) {
		fa_err_set(err, "%s: path too long", outdir);
		return FA_ERUNTIME;
	}
	char *buf;
	size_t len;
	int rc = read_path(path, REPORT_SIG_FILE_MAX, &buf, &len, err);
	if (rc == FA_EINPUT) {
		bool absent = access(path, F_OK) != 0;
		*verdict = absent ? REPORT_SIG_MISSING : REPORT_SIG_MALFORMED;
		if (absent)
			fa_err_set(err, "%s: missing: the report is not signed", path);
		return FA_OK;
	}
	if (rc != FA_OK)
		return rc;
	const char *why = NULL;
	bool ok = parse_sig(buf, len, info, sig, &why);
	free(buf);
	if (!ok) {
		*verdict = REPORT_SIG_MALFORMED;
		fa_err_set(err, "%s: not a signature flowaudit writes: %s", path, why);
		return FA_OK;
	}
	*verdict = REPORT_SIG_VALID;
	return FA_OK;
}

int report_sig_read(const char *outdir, enum report_sig_verdict *verdict,
		    struct report_sig_info *info, struct fa_err *err)
{
	unsigned char sig[ED25519_SIG_LEN];
	memset(info, 0, sizeof(*info));
	return sig_load(outdir, verdict, info, sig, err);
}

int report_sig_check(const char *outdir, const struct report_key *k,
		     enum report_sig_verdict *verdict, struct report_sig_info *info,
		     struct fa_err *err)
{
	memset(info, 0, sizeof(*info));
	char *msg;
	size_t len;
	int rc = read_manifest(outdir, &msg, &len, err);
	if (rc == FA_EINPUT) {
		*verdict = REPORT_SIG_MISSING;
		return FA_OK;
	}
	if (rc != FA_OK)
		return rc;
	if (!sha256_text(msg, len, info->actual)) {
		free(msg);
		fa_err_set(err, "libcrypto cannot hash %s/%s", outdir, MANIFEST_NAME);
		return FA_ERUNTIME;
	}
	unsigned char sig[ED25519_SIG_LEN];
	rc = sig_load(outdir, verdict, info, sig, err);
	if (rc != FA_OK || *verdict != REPORT_SIG_VALID) {
		free(msg);
		return rc;
	}
	if (strcmp(info->key, k->fingerprint) != 0) {
		free(msg);
		*verdict = REPORT_SIG_OTHER_KEY;
		fa_err_set(err, "%s/%s: signed by the key %s, not by the key given (%s)", outdir,
			   REPORT_SIG_NAME, info->key, k->fingerprint);
		return FA_OK;
	}
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int v = ctx != NULL && EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, k->pkey) == 1
			? EVP_DigestVerify(ctx, sig, ED25519_SIG_LEN, (const unsigned char *)msg, len)
			: -1;
	EVP_MD_CTX_free(ctx);
	free(msg);
	ERR_clear_error();
	bool same = strcmp(info->manifest, info->actual) == 0;
	if (v == 1 && same) {
		*verdict = REPORT_SIG_VALID;
	} else if (v == 1) {
		*verdict = REPORT_SIG_MALFORMED;
		fa_err_set(err, "%s/%s: the manifest line names %s, not the manifest signed (%s)",
			   outdir, REPORT_SIG_NAME, info->manifest, info->actual);
	} else if (v == 0) {
		*verdict = same ? REPORT_SIG_INVALID : REPORT_SIG_MISMATCH;
		if (same)
			fa_err_set(err, "%s/%s: the signature does not verify with the key %s", outdir,
				   REPORT_SIG_NAME, k->fingerprint);
		else
			fa_err_set(err, "%s/%s changed since it was signed: it is %s, the signature "
				   "is over %s", outdir, MANIFEST_NAME, info->actual, info->manifest);
	} else {
		fa_err_set(err, "libcrypto failed verifying %s/%s", outdir, REPORT_SIG_NAME);
		return FA_ERUNTIME;
	}
	return FA_OK;
}
