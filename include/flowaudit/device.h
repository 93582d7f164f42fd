/*
 * device.h - the device profile (-d DEVICE.json): identifiers of the device
 * under test, which the identifier scanner looks for in cleartext payload.
 *
 * {"name": "...", "imei": "...", "imsi": "...", "iccid": "...",
 *  "android_id": "...", "advertising_id": "...", "serial": "...",
 *  "mac": "...", "phone": "...", "email": "...",
 *  "latitude": 48.8566, "longitude": 2.3522,
 *  "other": [{"type": "...", "value": "..."}],
 *  "vantage": "CN" or "39.9042,116.4074"}
 *
 * Every field is optional, but the profile must name at least one identifier
 * (latitude and longitude come together and count as one). "vantage" is not
 * an identifier: it says where the capture was made (geodist.h), for the
 * location check of cross-border findings. Unknown fields,
 * values of the wrong shape and files over 64 KiB are refused with FA_EINPUT
 * and a message naming the file and the field. Error messages never repeat
 * an identifier's value.
 *
 * Ownership: device_load() hands the caller a profile that owns all its
 * strings; device_free() releases it (NULL is a no-op).
 */
#ifndef FLOWAUDIT_DEVICE_H
#define FLOWAUDIT_DEVICE_H

#include "flowaudit/common.h"
#include "flowaudit/geodist.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DEVICE_FILE_MAX (64 * 1024)
#define DEVICE_OTHER_MAX 16    /* entries in "other" */
#define DEVICE_VALUE_MAX 128   /* bytes of one identifier value */

struct device_identifier {
	const char *type; /* "imei", "imsi", "iccid", "android_id", "advertising_id",
			     "serial", "mac", "phone", "email", or an "other" entry's type */
	char *value;      /* as written in the profile */
	char *type_store; /* owns type for "other" entries; NULL otherwise */
};

struct device_profile {
	char *path;       /* the file it was loaded from */
	char *name;       /* NULL when absent */
	struct device_identifier *ids;
	size_t n_ids;     /* in the order of the fixed fields above, then "other" */
	bool has_location;
	double lat, lon;
	struct vantage vantage; /* .set false when the profile gives none */
};

int device_load(const char *path, struct device_profile **out, struct fa_err *err);
/* The profile's "mac" as 6 octets; false when it gives none (d may be NULL). */
bool device_profile_mac(const struct device_profile *d, uint8_t mac[6]);
void device_free(struct device_profile *d);

#endif
