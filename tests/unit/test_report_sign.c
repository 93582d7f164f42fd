/*
 * test_report_sign.c - MANIFEST.sha256.sig: signing a manifest with an
 * Ed25519 key and every verdict of checking it (valid, missing, malformed
 * line by line, another key, a changed manifest, a signature that does not
 * verify), and the key files refused (loose permissions, not Ed25519,
 * encrypted, the wrong half, too large). Keys are made here with
 * libcrypto and written as openssl's genpkey and pkey -pubout write them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "flowaudit/hash.h"
#include "flowaudit/report_sign.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct fixture {
	char dir[64];
	char priv[128], pub[128];     /* the lab's key pair */
	char other_priv[128], other_pub[128];
	char fpr[72];                 /* the lab key's fingerprint, computed here */
	char pem_body[40];            /* a piece of the private key's PEM, never to be printed */
};

static void put(const char *path, const char *text, size_t len, mode_t mode)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	fclose(f);
	assert_int_equal(chmod(path, mode), 0);
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	static char buf[8192];
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return buf;
}

/* An Ed25519 key pair as PEM files; fpr gets SHA256:<hex of the DER public key>. */
static void make_keys(const char *priv, const char *pub, char *fpr)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	assert_non_null(k);
	FILE *f = fopen(priv, "w");
	assert_non_null(f);
	assert_int_equal(PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL), 1);
	fclose(f);
	assert_int_equal(chmod(priv, 0600), 0);
	f = fopen(pub, "w");
	assert_non_null(f);
	assert_int_equal(PEM_write_PUBKEY(f, k), 1);
	fclose(f);
	if (fpr != NULL) {
		unsigned char *der = NULL;
		int n = i2d_PUBKEY(k, &der);
		uint8_t md[32];
		unsigned int ml = 0;
		assert_int_equal(EVP_Digest(der, (size_t)n, md, &ml, EVP_sha256(), NULL), 1);
		OPENSSL_free(der);
		strcpy(fpr, "SHA256:");
		hash_hex(md, 32, fpr + 7);
	}
	EVP_PKEY_free(k);
}

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	strcpy(fx->dir, "/tmp/fa_sign_XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	snprintf(fx->priv, sizeof(fx->priv), "%s/lab.pem", fx->dir);
	snprintf(fx->pub, sizeof(fx->pub), "%s/lab.pub", fx->dir);
	snprintf(fx->other_priv, sizeof(fx->other_priv), "%s/other.pem", fx->dir);
	snprintf(fx->other_pub, sizeof(fx->other_pub), "%s/other.pub", fx->dir);
	make_keys(fx->priv, fx->pub, fx->fpr);
	make_keys(fx->other_priv, fx->other_pub, NULL);
	const char *pem = slurp(fx->priv);
	const char *body = strchr(pem, '\n') + 1;
	memcpy(fx->pem_body, body, 24);
	char p[128];
	snprintf(p, sizeof(p), "%s/MANIFEST.sha256", fx->dir);
	const char *m = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08  report.json\n";
	put(p, m, strlen(m), 0644);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", fx->dir);
	assert_int_equal(system(cmd), 0);
	free(fx);
	return 0;
}

static struct report_key *load(const char *path, bool private_key)
{
	struct report_key *k = NULL;
	struct fa_err err = {{0}};
	int rc = private_key ? report_key_load_private(path, &k, &err)
			     : report_key_load_public(path, &k, &err);
	if (rc != FA_OK)
		fail_msg("%s", err.msg);
	return k;
}

static enum report_sig_verdict check(const struct fixture *fx, const char *pub, char *msg,
				     size_t msg_size)
{
	struct report_key *k = load(pub, false);
	struct fa_err err = {{0}};
	enum report_sig_verdict v;
	struct report_sig_info info;
	assert_int_equal(report_sig_check(fx->dir, k, &v, &info, &err), FA_OK);
	if (msg != NULL)
		snprintf(msg, msg_size, "%s", err.msg);
	report_key_free(k);
	return v;
}

static void sign(const struct fixture *fx)
{
	struct report_key *k = load(fx->priv, true);
	struct fa_err err = {{0}};
	assert_int_equal(report_sign_manifest(fx->dir, k, &err), FA_OK);
	report_key_free(k);
}

static void sig_path(const struct fixture *fx, char *p, size_t n)
{
	snprintf(p, n, "%s/%s", fx->dir, REPORT_SIG_NAME);
}

static void test_sign_valid(void **state)
{
	struct fixture *fx = *state;
	sign(fx);
	struct report_key *priv = load(fx->priv, true), *pub = load(fx->pub, false);
	assert_string_equal(report_key_fingerprint(priv), fx->fpr);
	assert_string_equal(report_key_fingerprint(pub), fx->fpr);
	report_key_free(priv);
	report_key_free(pub);
	assert_int_equal(check(fx, fx->pub, NULL, 0), REPORT_SIG_VALID);

	char p[128];
	sig_path(fx, p, sizeof(p));
	char *text = slurp(p);
	char want[160];
	snprintf(want, sizeof(want), "flowaudit-signature/1\nalgorithm ed25519\nkey %s\nmanifest "
		 "SHA256:", fx->fpr);
	assert_memory_equal(text, want, strlen(want));
	assert_int_equal(strlen(text), strlen(want) + 64 + strlen("\nsignature ") + 88 + 1);

	enum report_sig_verdict v;
	struct report_sig_info info;
	struct fa_err err = {{0}};
	assert_int_equal(report_sig_read(fx->dir, &v, &info, &err), FA_OK);
	assert_int_equal(v, REPORT_SIG_VALID);
	assert_string_equal(info.key, fx->fpr);
}

static void test_other_key_and_changes(void **state)
{
	struct fixture *fx = *state;
	sign(fx);
	char msg[1024];
	assert_int_equal(check(fx, fx->other_pub, msg, sizeof(msg)), REPORT_SIG_OTHER_KEY);
	assert_non_null(strstr(msg, fx->fpr));

	char m[128];
	snprintf(m, sizeof(m), "%s/MANIFEST.sha256", fx->dir);
	char orig[4096];
	strcpy(orig, slurp(m));
	char changed[4096];
	strcpy(changed, orig);
	changed[0] = changed[0] == '0' ? '1' : '0';
	put(m, changed, strlen(changed), 0644);
	assert_int_equal(check(fx, fx->pub, msg, sizeof(msg)), REPORT_SIG_MISMATCH);
	assert_non_null(strstr(msg, "changed since it was signed"));
	put(m, orig, strlen(orig), 0644);
	assert_int_equal(check(fx, fx->pub, NULL, 0), REPORT_SIG_VALID);

	/* one bit of the signature: still base64 of 64 bytes, does not verify */
	char p[128];
	sig_path(fx, p, sizeof(p));
	char sig[4096];
	strcpy(sig, slurp(p));
	char *b64 = strstr(sig, "signature ") + 10;
	char good = b64[5];
	b64[5] = good == 'A' ? 'B' : 'A';
	put(p, sig, strlen(sig), 0644);
	assert_int_equal(check(fx, fx->pub, msg, sizeof(msg)), REPORT_SIG_INVALID);
	b64[5] = good;
	put(p, sig, strlen(sig), 0644);
	assert_int_equal(check(fx, fx->pub, NULL, 0), REPORT_SIG_VALID);

	/* the manifest line naming another manifest over a valid signature */
	char *ml = strstr(sig, "manifest SHA256:") + 16;
	ml[0] = ml[0] == 'a' ? 'b' : 'a';
	put(p, sig, strlen(sig), 0644);
	assert_int_equal(check(fx, fx->pub, NULL, 0), REPORT_SIG_MALFORMED);

	unlink(p);
	assert_int_equal(check(fx, fx->pub, msg, sizeof(msg)), REPORT_SIG_MISSING);
	assert_non_null(strstr(msg, "not signed"));
	put(m, "", 0, 0644);
	unlink(m);
	assert_int_equal(check(fx, fx->pub, NULL, 0), REPORT_SIG_MISSING);
}

/* Each way a signature file can be damaged reads as MALFORMED. */
static void test_malformed(void **state)
{
	struct fixture *fx = *state;
	sign(fx);
	char p[128];
	sig_path(fx, p, sizeof(p));
	char good[4096];
	strcpy(good, slurp(p));
	static const struct {
		const char *from, *to;
	} edits[] = {
		{"flowaudit-signature/1", "flowaudit-signature/2"},
		{"algorithm ed25519", "algorithm rsa"},
		{"key SHA256:", "key SHA1:"},
		{"key SHA256:", "key SHA256:x"},
		{"manifest SHA256:", "manifest  SHA256:"},
		{"signature ", "signature A"},
		{"==\n", "=A\n"},
		{"==\n", "==\nmore\n"},
		{"==\n", "=="},
		{"\nalgorithm", "\n\nalgorithm"},
	};
	for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
		char bad[4200];
		char *at = strstr(good, edits[i].from);
		assert_non_null(at);
		size_t pre = (size_t)(at - good);
		snprintf(bad, sizeof(bad), "%.*s%s%s", (int)pre, good, edits[i].to,
			 at + strlen(edits[i].from));
		put(p, bad, strlen(bad), 0644);
		char msg[1024];
		if (check(fx, fx->pub, msg, sizeof(msg)) != REPORT_SIG_MALFORMED)
			fail_msg("edit %zu (%s -> %s) not taken as malformed", i, edits[i].from,
				 edits[i].to);
		assert_non_null(strstr(msg, REPORT_SIG_NAME));
	}
	/* a NUL inside */
	char nul[4096];
	memcpy(nul, good, strlen(good));
	nul[3] = '\0';
	put(p, nul, strlen(good), 0644);
	assert_int_equal(check(fx, fx->pub, NULL, 0), REPORT_SIG_MALFORMED);
	/* larger than any signature file */
	char *big = calloc(1, REPORT_SIG_FILE_MAX + 2);
	memset(big, 'a', REPORT_SIG_FILE_MAX + 1);
	put(p, big, REPORT_SIG_FILE_MAX + 1, 0644);
	free(big);
	assert_int_equal(check(fx, fx->pub, NULL, 0), REPORT_SIG_MALFORMED);
	put(p, good, strlen(good), 0644);
	assert_int_equal(check(fx, fx->pub, NULL, 0), REPORT_SIG_VALID);
}

/* k as a PEM private key file of mode 0600, encrypted or not; frees k. */
static void write_private(const char *path, EVP_PKEY *k, bool encrypted)
{
	assert_non_null(k);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(PEM_write_PKCS8PrivateKey(f, k, encrypted ? EVP_aes_256_cbc() : NULL,
						   encrypted ? "pass" : NULL, encrypted ? 4 : 0,
						   NULL, NULL), 1);
	fclose(f);
	EVP_PKEY_free(k);
	assert_int_equal(chmod(path, 0600), 0);
}

static int load_err(const char *path, bool private_key, char *msg, size_t n)
{
	struct report_key *k = NULL;
	struct fa_err err = {{0}};
	int rc = private_key ? report_key_load_private(path, &k, &err)
			     : report_key_load_public(path, &k, &err);
	assert_null(k);
	snprintf(msg, n, "%s", err.msg);
	return rc;
}

static void test_key_files_refused(void **state)
{
	struct fixture *fx = *state;
	char msg[1024];
	assert_int_equal(chmod(fx->priv, 0640), 0);
	assert_int_equal(load_err(fx->priv, true, msg, sizeof(msg)), FA_EINPUT);
	assert_non_null(strstr(msg, "mode 0640"));
	assert_null(strstr(msg, fx->pem_body));
	assert_int_equal(chmod(fx->priv, 0600), 0);

	/* each half where the other is wanted */
	assert_int_equal(load_err(fx->pub, true, msg, sizeof(msg)), FA_EINPUT);
	assert_non_null(strstr(msg, "holds no PEM private key"));
	assert_int_equal(load_err(fx->priv, false, msg, sizeof(msg)), FA_EINPUT);
	assert_non_null(strstr(msg, "holds no PEM public key"));
	assert_null(strstr(msg, fx->pem_body));

	/* not Ed25519 */
	char ec[128];
	snprintf(ec, sizeof(ec), "%s/ec.pem", fx->dir);
	write_private(ec, EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256"), false);
	assert_int_equal(load_err(ec, true, msg, sizeof(msg)), FA_EINPUT);
	assert_non_null(strstr(msg, "an EC key, not Ed25519"));

	/* encrypted */
	char enc[128];
	snprintf(enc, sizeof(enc), "%s/enc.pem", fx->dir);
	write_private(enc, EVP_PKEY_Q_keygen(NULL, NULL, "ED25519"), true);
	assert_int_equal(load_err(enc, true, msg, sizeof(msg)), FA_EINPUT);
	assert_non_null(strstr(msg, "encrypted"));

	/* too large, absent, garbage */
	char big[128];
	snprintf(big, sizeof(big), "%s/big.pem", fx->dir);
	char *junk = calloc(1, REPORT_KEY_FILE_MAX + 1);
	memset(junk, '-', REPORT_KEY_FILE_MAX + 1);
	put(big, junk, REPORT_KEY_FILE_MAX + 1, 0600);
	free(junk);
	assert_int_equal(load_err(big, true, msg, sizeof(msg)), FA_EINPUT);
	char none[128];
	snprintf(none, sizeof(none), "%s/none.pem", fx->dir);
	assert_int_equal(load_err(none, false, msg, sizeof(msg)), FA_EINPUT);
	assert_non_null(strstr(msg, "none.pem"));
	put(none, "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", 56, 0644);
	assert_int_equal(load_err(none, false, msg, sizeof(msg)), FA_EINPUT);

	/* a public key cannot sign */
	struct report_key *pub = load(fx->pub, false);
	struct fa_err err = {{0}};
	assert_int_equal(report_sign_manifest(fx->dir, pub, &err), FA_EINPUT);
	report_key_free(pub);
	report_key_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_sign_valid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_other_key_and_changes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_key_files_refused, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
