/*
 * classify.c - the one place flowaudit talks to nDPI.
 *
 * Receives IP packets per flow; hands on a classify_result; owns the nDPI
 * module and per-flow nDPI state. Workload: every packet of a flow until
 * detection ends, which for most flows is within the first handful of
 * packets; nDPI is where nearly all of a replay's CPU time goes, so the
 * budget of packets fed per flow decides the speed.
 *
 * nDPI 4.2 facts this relies on: ndpi_detection_process_packet() takes the
 * packet from the IP header; host_server_name holds SNI, HTTP Host or DNS
 * query (cut at 79 chars); flow->protos is a union, read only the member of
 * the detected protocol.
 */
#include "flowaudit/classify.h"

#include <ndpi_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct classifier {
	struct ndpi_detection_module_struct *mod;
	struct classifier_cfg cfg;
};

struct classify_flow {
	struct ndpi_flow_struct *nf; /* &flow */
	ndpi_protocol proto;
	uint32_t fed;
	uint32_t budget;
	bool done;
	/* nDPI's state, in the same allocation: one malloc a flow instead of two */
	struct ndpi_flow_struct flow;
};

int classifier_new(const struct classifier_cfg *cfg, struct classifier **out, struct fa_err *err)
{
	*out = NULL;
	struct classifier *c = calloc(1, sizeof(*c));
	if (c == NULL) {
		fa_err_set(err, "out of memory creating the nDPI module");
		return FA_ERUNTIME;
	}
	c->cfg.tcp_budget = cfg && cfg->tcp_budget ? cfg->tcp_budget : 40;
	c->cfg.udp_budget = cfg && cfg->udp_budget ? cfg->udp_budget : 16;
	c->mod = ndpi_init_detection_module(ndpi_no_prefs);
	if (c->mod == NULL) {
		free(c);
		fa_err_set(err, "nDPI failed to initialise its detection module");
		return FA_ERUNTIME;
	}
	NDPI_PROTOCOL_BITMASK all;
	NDPI_BITMASK_SET_ALL(all);
	ndpi_set_protocol_detection_bitmask2(c->mod, &all);
	ndpi_finalize_initialization(c->mod);
	*out = c;
	return FA_OK;
}

void classifier_free(struct classifier *c)
{
	if (c == NULL)
		return;
	ndpi_exit_detection_module(c->mod);
	free(c);
}

struct classify_flow *classify_flow_new(struct classifier *c, uint8_t l4_proto)
{
	struct classify_flow *cf = calloc(1, sizeof(*cf)); /* nDPI's state zeroed too */
	if (cf == NULL)
		return NULL;
	cf->nf = &cf->flow;
	cf->budget = l4_proto == 6 ? c->cfg.tcp_budget : c->cfg.udp_budget;
	return cf;
}

void classify_flow_free(struct classify_flow *cf)
{
	if (cf == NULL)
		return;
	ndpi_free_flow_data(cf->nf); /* what nDPI allocated for the flow */
	free(cf);
}

bool classify_packet(struct classifier *c, struct classify_flow *cf, const uint8_t *l3,
		     uint32_t l3_len, fa_time ts)
{
	if (cf->done)
		return true;
	if (l3_len > 65535)
		l3_len = 65535;
	cf->proto = ndpi_detection_process_packet(c->mod, cf->nf, l3, (unsigned short)l3_len,
						  (uint64_t)(ts / 1000));
	cf->fed++;
	if (cf->proto.app_protocol != NDPI_PROTOCOL_UNKNOWN &&
	    !ndpi_extra_dissection_possible(c->mod, cf->nf))
		cf->done = true;
	if (cf->fed >= cf->budget)
		cf->done = true;
	return cf->done;
}

bool classify_has_name(const struct classify_flow *cf)
{
	return cf->nf != NULL && cf->nf->host_server_name[0] != '\0';
}

static bool is_cleartext_app(uint16_t id)
{
	switch (id) {
	case NDPI_PROTOCOL_HTTP:
	case NDPI_PROTOCOL_HTTP_PROXY:
	case NDPI_PROTOCOL_HTTP_CONNECT:
	case NDPI_PROTOCOL_FTP_CONTROL:
	case NDPI_PROTOCOL_MAIL_POP:
	case NDPI_PROTOCOL_MAIL_SMTP:
	case NDPI_PROTOCOL_MAIL_IMAP:
	case NDPI_PROTOCOL_TELNET:
	case NDPI_PROTOCOL_MQTT:
	case NDPI_PROTOCOL_RTSP:
	case NDPI_PROTOCOL_IRC:
		return true;
	default:
		return false;
	}
}

/* src into dst of n bytes, cut to fit (n > 0). */
static void copy_str(char *dst, size_t n, const char *src)
{
	size_t k = src != NULL ? strnlen(src, n - 1) : 0;
	memcpy(dst, src != NULL ? src : "", k);
	dst[k] = '\0';
}

void classify_finish(struct classifier *c, struct classify_flow *cf, struct classify_result *out)
{
	memset(out, 0, sizeof(*out));
	struct ndpi_flow_struct *nf = cf->nf;
	ndpi_protocol p = cf->proto;
	if (p.app_protocol == NDPI_PROTOCOL_UNKNOWN) {
		uint8_t guessed = 0;
		p = ndpi_detection_giveup(c->mod, nf, 1, &guessed);
		out->guessed = guessed != 0;
	}
	ndpi_protocol2name(c->mod, p, out->protocol, sizeof(out->protocol));
	uint16_t master = p.master_protocol, app = p.app_protocol;
	copy_str(out->app, sizeof(out->app), ndpi_get_proto_name(c->mod, app));
	if (master != NDPI_PROTOCOL_UNKNOWN && master != app)
		copy_str(out->master, sizeof(out->master), ndpi_get_proto_name(c->mod, master));
	out->category = ndpi_category_get_name(c->mod, p.category);
	if (out->category == NULL)
		out->category = "Unspecified";
	out->encrypted = ndpi_is_encrypted_proto(c->mod, p) != 0;
	out->cleartext_app = !out->encrypted && (is_cleartext_app(master) || is_cleartext_app(app));
	out->packets_fed = cf->fed;

	bool tls = master == NDPI_PROTOCOL_TLS || app == NDPI_PROTOCOL_TLS ||
		   master == NDPI_PROTOCOL_DTLS || app == NDPI_PROTOCOL_DTLS;
	bool quic = master == NDPI_PROTOCOL_QUIC || app == NDPI_PROTOCOL_QUIC;
	bool http = master == NDPI_PROTOCOL_HTTP || app == NDPI_PROTOCOL_HTTP ||
		    master == NDPI_PROTOCOL_HTTP_PROXY || app == NDPI_PROTOCOL_HTTP_PROXY ||
		    master == NDPI_PROTOCOL_HTTP_CONNECT || app == NDPI_PROTOCOL_HTTP_CONNECT;
	bool dns = master == NDPI_PROTOCOL_DNS || app == NDPI_PROTOCOL_DNS;
	out->is_dns = dns;
	copy_str(out->name, sizeof(out->name), nf->host_server_name);
	if (out->name[0] == '\0')
		out->name_kind = CLASSIFY_NAME_NONE;
	else if (quic)
		out->name_kind = CLASSIFY_NAME_QUIC_SNI;
	else if (tls)
		out->name_kind = CLASSIFY_NAME_TLS_SNI;
	else if (http)
		out->name_kind = CLASSIFY_NAME_HTTP_HOST;
	else if (dns)
		out->name_kind = CLASSIFY_NAME_DNS_QUERY;
	else
		out->name_kind = CLASSIFY_NAME_OTHER;
	if (tls || quic) {
		copy_str(out->alpn, sizeof(out->alpn), nf->protos.tls_quic.alpn);
		copy_str(out->ja3, sizeof(out->ja3), nf->protos.tls_quic.ja3_client);
	}
	if (http || nf->http.url != NULL) {
		copy_str(out->http_url, sizeof(out->http_url), nf->http.url);
		copy_str(out->user_agent, sizeof(out->user_agent), nf->http.user_agent);
	}
	classify_flow_free(cf);
}

const char *classify_name_kind_name(enum classify_name_kind k)
{
	switch (k) {
	case CLASSIFY_NAME_NONE: return "none";
	case CLASSIFY_NAME_TLS_SNI: return "sni";
	case CLASSIFY_NAME_QUIC_SNI: return "quic_sni";
	case CLASSIFY_NAME_HTTP_HOST: return "http_host";
	case CLASSIFY_NAME_DNS_QUERY: return "dns_query";
	case CLASSIFY_NAME_OTHER: return "other";
	}
	return "none";
}
