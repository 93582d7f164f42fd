#!/usr/bin/perl
# build-asn-mmdb.pl - turn the @ip-location-db/asn CSV files into one MaxMind
# DB file with GeoLite2-ASN field names.
#
#   perl scripts/build-asn-mmdb.pl OUT.mmdb asn-ipv4.csv asn-ipv6.csv
#
# Input lines: first_ip,last_ip,asn,org where org may be double-quoted with ""
# for a literal quote (first and last are inclusive; a range need not be a
# CIDR block, the writer splits it). The database is IPv6 with IPv4 in ::/96,
# so an AF_INET lookup with libmaxminddb finds the IPv4 entries. IPv4-mapped,
# 6to4 and Teredo ranges are not aliased to IPv4: 2001::/32 has an ASN of its
# own in the data. Reserved and private ranges are dropped by the writer.
# Writes OUT.mmdb.tmp then renames it, so a reader never sees half a file.
use strict;
use warnings;

use MaxMind::DB::Writer::Tree;

die "usage: $0 OUT.mmdb CSV...\n" if @ARGV < 2;
my ( $out, @csv ) = @ARGV;

my %types = (
    autonomous_system_number       => 'uint32',
    autonomous_system_organization => 'utf8_string',
);

my $tree = MaxMind::DB::Writer::Tree->new(
    ip_version               => 6,
    record_size              => 28,
    database_type            => 'flowaudit-ASN',
    languages                => ['en'],
    description              => {
        en => 'IP to ASN built from the @ip-location-db/asn CSV (RouteViews, '
            . 'DB-IP IP to ASN Lite, NRO RIR statistics), CC BY 4.0',
    },
    alias_ipv6_to_ipv4       => 0,
    remove_reserved_networks => 1,
    map_key_type_callback    => sub { $types{ $_[0] } },
);

# One hash per distinct (asn, org) pair: the writer keys stored data by
# content, and sharing the hash saves building 500k small ones.
my %data;
my $rows = 0;
for my $file (@csv) {
    open my $fh, '<', $file or die "$file: $!\n";
    while ( my $line = <$fh> ) {
        $line =~ s/\r?\n\z//;
        next if $line eq '';
        my ( $first, $last, $asn, $org ) = split /,/, $line, 4;
        die "$file:$.: expected first_ip,last_ip,asn,org\n"
            unless defined $org && $asn =~ /\A[0-9]+\z/;
        if ( $org =~ /\A"(.*)"\z/s ) {
            $org = $1;
            $org =~ s/""/"/g;
        }
        utf8::decode($org);
        my $rec = $data{"$asn\0$org"} //= {
            autonomous_system_number       => $asn + 0,
            autonomous_system_organization => $org,
        };
        $tree->insert_range( $first, $last, $rec );
        $rows++;
    }
    close $fh;
}
die "no rows read from @csv\n" if $rows == 0;

my $tmp = "$out.tmp";
open my $fh, '>:raw', $tmp or die "$tmp: $!\n";
$tree->write_tree($fh);
close $fh or die "$tmp: $!\n";
rename $tmp, $out or die "rename $tmp to $out: $!\n";
printf "%d ranges, %d distinct AS records\n", $rows, scalar keys %data;
