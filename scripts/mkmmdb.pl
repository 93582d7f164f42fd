#!/usr/bin/perl
# mkmmdb.pl - write a small MaxMind DB file from a text spec, for tests.
#
#   perl scripts/mkmmdb.pl [options] country|asn OUT.mmdb [SPEC...]
#
# Spec lines (from SPEC files, '-' for stdin, or --line; '#' starts a comment):
#   country:  CIDR CC            e.g. "8.8.8.0/24 US"
#   asn:      CIDR ASN ORG...    e.g. "8.8.8.0/24 15169 Google LLC"
#
# Options:
#   --line 'SPEC LINE'   add one line (repeatable)
#   --format ipdb        country as top-level country_code (ip-location-db)
#   --format geolite2    country as country.iso_code and
#                        registered_country.iso_code (GeoLite2, DB-IP)
#   --ip-version 4|6     default 6 (IPv4 then lives in ::/96)
#   --type NAME          database_type in the metadata
#
# Reserved and private networks are kept, unlike a real database build: tests
# put them in on purpose to prove the reader never looks them up.
use strict;
use warnings;

use Getopt::Long qw( GetOptions );
use MaxMind::DB::Writer::Tree;

my @lines;
my $format     = 'ipdb';
my $ip_version = 6;
my $type;
GetOptions(
    'line=s'       => \@lines,
    'format=s'     => \$format,
    'ip-version=i' => \$ip_version,
    'type=s'       => \$type,
) or die "usage: $0 [options] country|asn OUT.mmdb [SPEC...]\n";
my ( $kind, $out, @files ) = @ARGV;
die "usage: $0 [options] country|asn OUT.mmdb [SPEC...]\n"
    unless defined $out && defined $kind && $kind =~ /\A(?:country|asn)\z/;
die "--format must be ipdb or geolite2\n"
    unless $format =~ /\A(?:ipdb|geolite2)\z/;
die "--ip-version must be 4 or 6\n" unless $ip_version == 4 || $ip_version == 6;

my @spec;
for my $file (@files) {
    my $fh;
    if ( $file eq '-' ) {
        $fh = \*STDIN;
        binmode $fh, ":encoding(UTF-8)";
    }
    else {
        open $fh, '<:encoding(UTF-8)', $file or die "$file: $!\n";
    }
    while ( my $l = <$fh> ) {
        push @spec, [ $file, $., $l ];
    }
}
utf8::decode($_) for @lines;
push @spec, map { [ '--line', 0, $_ ] } @lines;

my %types = (
    country_code                   => 'utf8_string',
    country                        => 'map',
    registered_country             => 'map',
    iso_code                       => 'utf8_string',
    autonomous_system_number       => 'uint32',
    autonomous_system_organization => 'utf8_string',
);

my $tree = MaxMind::DB::Writer::Tree->new(
    ip_version               => $ip_version,
    record_size              => 24,
    database_type            => $type // "flowaudit-test-$kind",
    languages                => ['en'],
    description              => { en => "flowaudit test $kind database" },
    remove_reserved_networks => 0,
    map_key_type_callback    => sub { $types{ $_[0] } },
);

my $n = 0;
for my $s (@spec) {
    my ( $file, $lineno, $l ) = @{$s};
    $l =~ s/#.*//;
    $l =~ s/\A\s+|\s+\z//g;
    next if $l eq '';
    my $data;
    if ( $kind eq 'country' ) {
        my ( $net, $cc ) = split /\s+/, $l;
        die "$file:$lineno: expected 'CIDR CC'\n"
            unless defined $cc && $net =~ m{/} && $cc =~ /\A[A-Z]{2}\z/;
        $data
            = $format eq 'ipdb'
            ? { country_code => $cc }
            : {
            country            => { iso_code => $cc },
            registered_country => { iso_code => $cc },
            };
        $tree->insert_network( $net, $data );
    }
    else {
        my ( $net, $asn, $org ) = split /\s+/, $l, 3;
        die "$file:$lineno: expected 'CIDR ASN ORG'\n"
            unless defined $org && $net =~ m{/} && $asn =~ /\A[0-9]+\z/;
        $tree->insert_network(
            $net,
            {
                autonomous_system_number       => $asn + 0,
                autonomous_system_organization => $org,
            }
        );
    }
    $n++;
}
die "no networks in the spec\n" if $n == 0;

my $tmp = "$out.tmp";
open my $fh, '>:raw', $tmp or die "$tmp: $!\n";
$tree->write_tree($fh);
close $fh or die "$tmp: $!\n";
rename $tmp, $out or die "rename $tmp to $out: $!\n";
