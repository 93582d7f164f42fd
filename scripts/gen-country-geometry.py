#!/usr/bin/python3
"""Writes src/analysis/geodist_data.c: country outlines for distance bounds.

    scripts/gen-country-geometry.py COUNTRIES-50M.JSON > src/analysis/geodist_data.c

Input: countries-50m.json of the npm package world-atlas 2.0.2 (ISC
licence; `npm pack world-atlas@2.0.2`), which is Natural Earth's 1:50m
Admin 0 country boundaries, version 4.1.0 (public domain), as TopoJSON
whose ids are ISO 3166-1 numeric codes. The numeric codes are turned into
alpha-2 codes with Debian's iso-codes table
(/usr/share/iso-codes/json/iso_3166-1.json); four outlines without a
numeric code are named here: Somaliland as SO, Northern Cyprus as CY,
Kosovo as XK (the code MaxMind and the RIR-derived databases use), and the
Siachen Glacier and the Australian Indian Ocean territories are left out.

Each ring is simplified with Douglas-Peucker at EPSILON degrees (no point
of the 1:50m outline is farther than that from the simplified one, about
5.6 km at 0.05 degrees), edges longer than STEP degrees are cut into equal
pieces (Natural Earth draws an edge as a straight line in latitude and
longitude, the 49th parallel for one; geodist.c measures along great
circles, which differ from it by under a kilometre over a degree), and the
points are quantized to hundredths of a degree (0.8 km at most). The output is plain data: per country its code, first ring and
ring count, and its bounding box; per ring its first point and point
count; and the points as (latitude, longitude) in hundredths of a degree.
"""
import json
import sys

EPSILON = 0.05
STEP = 1.0  # degrees: no edge longer, so a great-circle arc stays on the drawn line
ISO = "/usr/share/iso-codes/json/iso_3166-1.json"
UNNUMBERED = {"Somaliland": "SO", "N. Cyprus": "CY", "Kosovo": "XK"}


def decode_arcs(topo):
    sx, sy = topo["transform"]["scale"]
    tx, ty = topo["transform"]["translate"]
    arcs = []
    for arc in topo["arcs"]:
        x = y = 0
        pts = []
        for dx, dy in arc:
            x += dx
            y += dy
            pts.append((x * sx + tx, y * sy + ty))
        arcs.append(pts)
    return arcs


def ring_points(arcs, ring):
    pts = []
    for i in ring:
        a = arcs[i] if i >= 0 else list(reversed(arcs[~i]))
        if pts:
            a = a[1:]
        pts.extend(a)
    return pts


def seg_dist(p, a, b):
    (px, py), (ax, ay), (bx, by) = p, a, b
    dx, dy = bx - ax, by - ay
    if dx == 0 and dy == 0:
        return ((px - ax) ** 2 + (py - ay) ** 2) ** 0.5
    t = max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy)))
    return ((px - ax - t * dx) ** 2 + (py - ay - t * dy) ** 2) ** 0.5


def douglas_peucker(pts, eps):
    if len(pts) < 3:
        return list(pts)
    keep = [False] * len(pts)
    keep[0] = keep[-1] = True
    stack = [(0, len(pts) - 1)]
    while stack:
        i, j = stack.pop()
        best, at = -1.0, -1
        for k in range(i + 1, j):
            d = seg_dist(pts[k], pts[i], pts[j])
            if d > best:
                best, at = d, k
        if best > eps:
            keep[at] = True
            stack.append((i, at))
            stack.append((at, j))
    return [p for p, k in zip(pts, keep) if k]


def simplify_ring(pts, eps):
    """A closed ring: split at its first point and the point farthest from it."""
    if pts[0] == pts[-1]:
        pts = pts[:-1]
    if len(pts) < 4:
        return pts
    far = max(range(len(pts)), key=lambda k: (pts[k][0] - pts[0][0]) ** 2 + (pts[k][1] - pts[0][1]) ** 2)
    a = douglas_peucker(pts[:far + 1], eps)
    b = douglas_peucker(pts[far:] + [pts[0]], eps)
    return a[:-1] + b[:-1]


def densify(pts, step):
    out = []
    for i, a in enumerate(pts):
        b = pts[(i + 1) % len(pts)]
        out.append(a)
        n = int(max(abs(b[0] - a[0]), abs(b[1] - a[1])) / step)
        for k in range(1, n + 1):
            t = k / (n + 1)
            out.append((a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1])))
    return out


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    topo = json.load(open(sys.argv[1], encoding="utf-8"))
    num = {e["numeric"]: e["alpha_2"] for e in json.load(open(ISO, encoding="utf-8"))["3166-1"]}
    arcs = decode_arcs(topo)
    countries = {}
    for g in topo["objects"]["countries"]["geometries"]:
        cc = num.get(g.get("id")) or UNNUMBERED.get(g["properties"]["name"])
        if cc is None:
            continue
        polys = g["arcs"] if g["type"] == "MultiPolygon" else [g["arcs"]]
        for poly in polys:
            for ring in poly:
                pts = densify(simplify_ring(ring_points(arcs, ring), EPSILON), STEP)
                q = []
                for lon, lat in pts:
                    p = (round(lat * 100), round(lon * 100))
                    if not q or q[-1] != p:
                        q.append(p)
                if len(q) >= 3:
                    countries.setdefault(cc, []).append(q)
    out = sys.stdout
    out.write("/*\n * geodist_data.c - country outlines: generated by "
              "scripts/gen-country-geometry.py,\n * do not edit.\n *\n"
              " * From Natural Earth 1:50m Admin 0 countries 4.1.0 (public domain), as the\n"
              " * npm package world-atlas 2.0.2 (ISC) has them; rings simplified to within\n"
              " * %.2f degrees and quantized to 0.01 degree. docs/rules.md says how they\n"
              " * are used and how accurate the distances are.\n */\n" % EPSILON)
    out.write('#include "geodist_int.h"\n\n')
    points, rings = [], []
    rows = []
    for cc in sorted(countries):
        first = len(rings)
        lat_lo = lon_lo = 1 << 20
        lat_hi = lon_hi = -(1 << 20)
        for q in countries[cc]:
            rings.append((len(points), len(q)))
            points.extend(q)
            for la, lo in q:
                lat_lo, lat_hi = min(lat_lo, la), max(lat_hi, la)
                lon_lo, lon_hi = min(lon_lo, lo), max(lon_hi, lo)
        rows.append((cc, first, len(rings) - first, lat_lo, lat_hi, lon_lo, lon_hi))
    out.write("const struct geodist_country geodist_countries[] = {\n")
    for r in rows:
        out.write('\t{"%s", %d, %d, {%d, %d, %d, %d}},\n' % r)
    out.write("};\nconst size_t geodist_n_countries = %d;\n\n" % len(rows))
    out.write("const struct geodist_ring geodist_rings[] = {\n")
    for i in range(0, len(rings), 6):
        out.write("\t" + " ".join("{%d, %d}," % r for r in rings[i:i + 6]) + "\n")
    out.write("};\n\nconst int16_t geodist_points[][2] = {\n")
    for i in range(0, len(points), 6):
        out.write("\t" + " ".join("{%d, %d}," % p for p in points[i:i + 6]) + "\n")
    out.write("};\n")
    print("%d countries, %d rings, %d points" % (len(rows), len(rings), len(points)),
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
