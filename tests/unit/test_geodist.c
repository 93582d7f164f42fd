/*
 * test_geodist.c - distances from points and countries to countries,
 * against distances measured independently (haversine between known
 * border points: Perl on the German border, Cap Gris-Nez, Attu Island and
 * Fuyuan for the US and China), and the vantage point's syntax.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "flowaudit/geodist.h"

#include <math.h>

#define PARIS 48.8566, 2.3522
#define LONDON 51.5074, -0.1278
#define BEIJING 39.9042, 116.4074

static void near(double got, double want, double tol)
{
	if (fabs(got - want) > tol)
		fail_msg("%.1f km, expected %.1f +- %.1f", got, want, tol);
}

static void test_haversine(void **state)
{
	(void)state;
	near(geodist_haversine(PARIS, LONDON), 343.6, 0.5);
	near(geodist_haversine(0, 0, 0, 180), M_PI * 6371.0088, 0.01);
	near(geodist_haversine(10, 20, 10, 20), 0, 1e-9);
}

static void test_point_to_country(void **state)
{
	(void)state;
	assert_true(geodist_point_to_country(PARIS, "FR") == 0);
	/* Paris to Perl (49.4693 N, 6.3667 E), where France, Germany and Luxembourg meet */
	near(geodist_point_to_country(PARIS, "DE"), 299.7, GEODIST_ERROR_KM);
	/* London to Cap Gris-Nez (50.8694 N, 1.5831 E) */
	near(geodist_point_to_country(LONDON, "FR"), 138.7, GEODIST_ERROR_KM);
	/* Beijing to Attu Island (52.93 N, 172.44 E), the nearest of the US */
	near(geodist_point_to_country(BEIJING, "US"), 4403, 2 * GEODIST_ERROR_KM);
	/* Maseru is in Lesotho, a hole in South Africa, a kilometre from its border */
	assert_true(geodist_point_to_country(-29.31, 27.48, "LS") == 0);
	double za = geodist_point_to_country(-29.31, 27.48, "ZA");
	assert_true(za > 0 && za < GEODIST_ERROR_KM);
	assert_true(geodist_point_to_country(PARIS, "ZZ") < 0);
}

static void test_country_to_country(void **state)
{
	(void)state;
	assert_true(geodist_country_to_country("FR", "DE") < 1);
	assert_true(geodist_country_to_country("CN", "CN") == 0);
	/* Fuyuan (48.45 N, 134.77 E) to Attu: the Aleutians are the US nearest China */
	near(geodist_country_to_country("CN", "US"), 2668, 2 * GEODIST_ERROR_KM);
	near(geodist_country_to_country("US", "CN"), geodist_country_to_country("CN", "US"), 1e-6);
	near(geodist_country_to_country("AU", "NZ"), 620, 3 * GEODIST_ERROR_KM);
	assert_true(geodist_country_to_country("CN", "ZZ") < 0);
}

static void test_vantage(void **state)
{
	(void)state;
	struct vantage v;
	const char *why;
	assert_true(vantage_parse("cn", &v, &why));
	assert_true(v.set && v.is_country);
	assert_string_equal(v.cc, "CN");
	assert_string_equal(v.text, "CN");
	near(geodist_vantage_to_country(&v, "US"), 2668, 2 * GEODIST_ERROR_KM);
	assert_true(vantage_parse("48.8566,2.3522", &v, &why));
	assert_false(v.is_country);
	assert_string_equal(v.text, "48.8566,2.3522");
	near(geodist_vantage_to_country(&v, "DE"), 299.7, GEODIST_ERROR_KM);
	assert_true(vantage_parse("-33.9,151.2", &v, &why));
	assert_false(vantage_parse("ZZ", &v, &why));
	assert_false(vantage_parse("91,0", &v, &why));
	assert_false(vantage_parse("10,181", &v, &why));
	assert_false(vantage_parse("10;20", &v, &why));
	assert_false(vantage_parse("10,2e1", &v, &why));
	assert_false(vantage_parse("", &v, &why));
	assert_false(vantage_parse("CHN", &v, &why));
	assert_false(v.set);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_haversine),
		cmocka_unit_test(test_point_to_country),
		cmocka_unit_test(test_country_to_country),
		cmocka_unit_test(test_vantage),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
