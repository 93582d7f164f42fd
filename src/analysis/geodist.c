/*
 * geodist.c - great-circle distances from a point or a country to a
 * country's outline.
 *
 * Receives a vantage point and country codes; hands on distances in
 * kilometres. Owns nothing but a table made once (under pthread_once) of
 * each ring's bounding cap, which lets a search skip the rings that cannot
 * beat the best distance found so far.
 *
 * Geometry: points are unit vectors; an edge of an outline is the
 * great-circle arc between its two points (the generator cut edges to a
 * degree at most, over which the arc and Natural Earth's straight line in
 * latitude and longitude differ by under a kilometre). The distance from a
 * point to an arc is the distance to the arc's great circle when the foot
 * of the perpendicular falls inside the arc, else to the nearer end.
 * Whether a point is inside a country is the even-odd rule over all the
 * country's rings in latitude and longitude (holes, Lesotho in South
 * Africa, count). Two countries are as far apart as the nearest vertex of
 * either is from the other: when they do not overlap, the nearest two
 * points of two outlines always include a vertex of one of them.
 *
 * Workload: a point to a country is one pass over the country's edges
 * (at most a few thousand); two countries, a pass per vertex, pruned by
 * the caps: tens of milliseconds for the largest pairs.
 */
#include "flowaudit/geodist.h"

#include "geodist_int.h"

#include <ctype.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EARTH_KM 6371.0088
#define DEG (M_PI / 180.0)

struct vec {
	double x, y, z;
};

static struct vec vec_of(double lat, double lon)
{
	double cl = cos(lat * DEG);
	return (struct vec){cl * cos(lon * DEG), cl * sin(lon * DEG), sin(lat * DEG)};
}

static struct vec point_vec(uint32_t i)
{
	return vec_of(geodist_points[i][0] / 100.0, geodist_points[i][1] / 100.0);
}

static double dot(struct vec a, struct vec b) { return a.x * b.x + a.y * b.y + a.z * b.z; }

static struct vec cross(struct vec a, struct vec b)
{
	return (struct vec){a.y * b.z - a.z * b.y, a.z * b.x - a.x * b.z, a.x * b.y - a.y * b.x};
}

static double norm(struct vec a) { return sqrt(dot(a, a)); }

/* The angle between two unit vectors, in radians (atan2: exact near 0 and pi). */
static double angle(struct vec a, struct vec b) { return atan2(norm(cross(a, b)), dot(a, b)); }

/* Angle from p to the great-circle arc a-b (the shorter one). */
static double arc_angle(struct vec p, struct vec a, struct vec b)
{
	struct vec n = cross(a, b);
	double nn = norm(n);
	double da = angle(p, a), db = angle(p, b);
	double ends = da < db ? da : db;
	if (nn < 1e-12)
		return ends;
	n = (struct vec){n.x / nn, n.y / nn, n.z / nn};
	double s = dot(p, n);
	struct vec c = {p.x - s * n.x, p.y - s * n.y, p.z - s * n.z};
	if (dot(cross(a, c), n) < 0 || dot(cross(c, b), n) < 0)
		return ends;
	double d = asin(fabs(s) > 1 ? 1 : fabs(s));
	return d < ends ? d : ends;
}

/* ---- bounding caps of the rings, made once ---- */

struct cap {
	struct vec c;
	double r; /* radians; M_PI: no pruning */
};

static struct cap *caps;
static pthread_once_t caps_once = PTHREAD_ONCE_INIT;

static void caps_make(void)
{
	size_t n_rings = 0;
	for (size_t i = 0; i < geodist_n_countries; i++)
		n_rings += geodist_countries[i].n_rings;
	caps = calloc(n_rings ? n_rings : 1, sizeof(*caps));
	if (caps == NULL)
		return;
	for (size_t r = 0; r < n_rings; r++) {
		const struct geodist_ring *g = &geodist_rings[r];
		struct vec s = {0, 0, 0};
		for (uint32_t k = 0; k < g->n; k++) {
			struct vec v = point_vec(g->first + k);
			s = (struct vec){s.x + v.x, s.y + v.y, s.z + v.z};
		}
		double ns = norm(s);
		caps[r].r = M_PI;
		if (ns < 1e-9)
			continue;
		caps[r].c = (struct vec){s.x / ns, s.y / ns, s.z / ns};
		double rad = 0;
		for (uint32_t k = 0; k < g->n; k++) {
			double a = angle(caps[r].c, point_vec(g->first + k));
			if (a > rad)
				rad = a;
		}
		/* a cap wider than a hemisphere does not hold its arcs */
		if (rad < M_PI / 2 - 0.01)
			caps[r].r = rad + 1e-6;
	}
}

/* ---- the table ---- */

static const struct geodist_country *country_find(const char *cc)
{
	if (cc == NULL)
		return NULL;
	size_t lo = 0, hi = geodist_n_countries;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strncmp(geodist_countries[mid].cc, cc, 2);
		if (c == 0 && cc[2] == '\0')
			return &geodist_countries[mid];
		if (c < 0 || (c == 0 && cc[2] != '\0'))
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

bool geodist_has_country(const char *cc) { return country_find(cc) != NULL; }

double geodist_haversine(double lat1, double lon1, double lat2, double lon2)
{
	double dlat = (lat2 - lat1) * DEG / 2, dlon = (lon2 - lon1) * DEG / 2;
	double h = sin(dlat) * sin(dlat) + cos(lat1 * DEG) * cos(lat2 * DEG) * sin(dlon) * sin(dlon);
	if (h > 1)
		h = 1;
	return 2 * EARTH_KM * asin(sqrt(h));
}

/* Even-odd over all the country's rings, in latitude and longitude. */
static bool inside(const struct geodist_country *c, double lat, double lon)
{
	double y = lat * 100, x = lon * 100;
	if (y < c->box[0] || y > c->box[1] || x < c->box[2] || x > c->box[3])
		return false;
	bool in = false;
	for (uint16_t r = 0; r < c->n_rings; r++) {
		const struct geodist_ring *g = &geodist_rings[c->first + r];
		for (uint32_t k = 0, j = g->n - 1; k < g->n; j = k++) {
			double yk = geodist_points[g->first + k][0], xk = geodist_points[g->first + k][1];
			double yj = geodist_points[g->first + j][0], xj = geodist_points[g->first + j][1];
			if ((yk > y) != (yj > y) && x < (xj - xk) * (y - yk) / (yj - yk) + xk)
				in = !in;
		}
	}
	return in;
}

/* Smallest angle from p to the country's edges, or `best` when none is nearer. */
static double edges_angle(const struct geodist_country *c, struct vec p, double best)
{
	for (uint16_t r = 0; r < c->n_rings; r++) {
		size_t ri = (size_t)c->first + r;
		const struct geodist_ring *g = &geodist_rings[ri];
		if (caps != NULL && caps[ri].r < M_PI && angle(p, caps[ri].c) - caps[ri].r >= best)
			continue;
		struct vec prev = point_vec(g->first + g->n - 1);
		for (uint32_t k = 0; k < g->n; k++) {
			struct vec cur = point_vec(g->first + k);
			double d = arc_angle(p, prev, cur);
			if (d < best)
				best = d;
			prev = cur;
		}
	}
	return best;
}

double geodist_point_to_country(double lat, double lon, const char *cc)
{
	const struct geodist_country *c = country_find(cc);
	if (c == NULL)
		return -1;
	pthread_once(&caps_once, caps_make);
	if (inside(c, lat, lon))
		return 0;
	return edges_angle(c, vec_of(lat, lon), M_PI) * EARTH_KM;
}

/* Smallest angle from a vertex of `from` to the outline of `to`, below best. */
static double vertices_angle(const struct geodist_country *from, const struct geodist_country *to,
			     double best)
{
	for (uint16_t r = 0; r < from->n_rings && best > 0; r++) {
		const struct geodist_ring *g = &geodist_rings[from->first + r];
		for (uint32_t k = 0; k < g->n && best > 0; k++)
			best = edges_angle(to, point_vec(g->first + k), best);
	}
	return best;
}

double geodist_country_to_country(const char *a, const char *b)
{
	const struct geodist_country *ca = country_find(a), *cb = country_find(b);
	if (ca == NULL || cb == NULL)
		return -1;
	if (ca == cb)
		return 0;
	pthread_once(&caps_once, caps_make);
	double best = vertices_angle(ca, cb, M_PI);
	best = vertices_angle(cb, ca, best);
	return best * EARTH_KM;
}

double geodist_vantage_to_country(const struct vantage *v, const char *cc)
{
	if (v == NULL || !v->set)
		return -1;
	if (v->is_country)
		return geodist_country_to_country(v->cc, cc);
	return geodist_point_to_country(v->lat, v->lon, cc);
}

/* A decimal number filling s[0..n) exactly. */
static bool parse_number(const char *s, size_t n, double *out)
{
	char buf[32];
	if (n == 0 || n >= sizeof(buf))
		return false;
	memcpy(buf, s, n);
	buf[n] = '\0';
	for (size_t i = 0; i < n; i++)
		if (!isdigit((unsigned char)buf[i]) && buf[i] != '.' && buf[i] != '-' && buf[i] != '+')
			return false;
	char *end;
	*out = strtod(buf, &end);
	return *end == '\0' && isfinite(*out);
}

bool vantage_parse(const char *s, struct vantage *out, const char **why)
{
	memset(out, 0, sizeof(*out));
	*why = "expected a two-letter country code (CN) or LAT,LON in decimal degrees";
	if (s == NULL)
		return false;
	size_t n = strlen(s);
	if (n == 2 && isalpha((unsigned char)s[0]) && isalpha((unsigned char)s[1])) {
		out->cc[0] = (char)toupper((unsigned char)s[0]);
		out->cc[1] = (char)toupper((unsigned char)s[1]);
		if (!geodist_has_country(out->cc)) {
			*why = "a country whose outline flowaudit does not have (ISO 3166-1 alpha-2 codes; "
			       "small territories are left out)";
			return false;
		}
		out->set = out->is_country = true;
		snprintf(out->text, sizeof(out->text), "%s", out->cc);
		return true;
	}
	const char *comma = strchr(s, ',');
	double lat, lon;
	if (comma == NULL || !parse_number(s, (size_t)(comma - s), &lat) ||
	    !parse_number(comma + 1, strlen(comma + 1), &lon))
		return false;
	if (lat < -90 || lat > 90 || lon < -180 || lon > 180) {
		*why = "latitude must be between -90 and 90, longitude between -180 and 180";
		return false;
	}
	out->set = true;
	out->lat = lat;
	out->lon = lon;
	snprintf(out->text, sizeof(out->text), "%.4f,%.4f", lat, lon);
	return true;
}
