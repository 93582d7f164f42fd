/*
 * geodist_int.h - the shape of the country outline tables that
 * geodist_data.c (generated) holds and geodist.c reads.
 */
#ifndef FLOWAUDIT_GEODIST_INT_H
#define FLOWAUDIT_GEODIST_INT_H

#include <stddef.h>
#include <stdint.h>

/* A country: its rings geodist_rings[first .. first + n_rings), and the
   box around them in hundredths of a degree. */
struct geodist_country {
	char cc[3];
	uint16_t first, n_rings;
	int16_t box[4]; /* lat min, lat max, lon min, lon max */
};

/* A ring: geodist_points[first .. first + n), closed from last to first. */
struct geodist_ring {
	uint32_t first, n;
};

extern const struct geodist_country geodist_countries[];
extern const size_t geodist_n_countries;
extern const struct geodist_ring geodist_rings[];
/* (latitude, longitude) in hundredths of a degree */
extern const int16_t geodist_points[][2];

#endif
