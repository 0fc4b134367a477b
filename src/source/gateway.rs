//! The `gateway` source: the container's default gateway, a fallback for bridge networking.
//!
//! In Docker's bridge mode the default gateway is the bridge on the host (docker0), where the
//! daemon Agent's host ports 8126/8125 are published. ddboot uses it only when the network mode
//! is bridge and every other source failed. The route table comes from `/proc/net/route`.

use std::net::Ipv4Addr;

/// Where the kernel lists IPv4 routes.
pub(crate) const ROUTE_TABLE: &str = "/proc/net/route";
const RTF_UP: u32 = 0x1;
const RTF_GATEWAY: u32 = 0x2;
/// `/proc/net/route` is small; a larger read means something is wrong.
const MAX_SIZE: u64 = 1024 * 1024;

/// The default route's gateway with the lowest metric, from the text of `/proc/net/route`.
pub fn parse_default_gateway(table: &str) -> Option<Ipv4Addr> {
    let mut best: Option<(u32, Ipv4Addr)> = None;
    for line in table.lines().skip(1) {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 8 {
            continue;
        }
        let hex = |s: &str| u32::from_str_radix(s, 16).ok();
        let (Some(dest), Some(gw), Some(flags), Some(mask)) = (hex(f[1]), hex(f[2]), hex(f[3]), hex(f[7]))
        else {
            continue;
        };
        let Ok(metric) = f[6].parse::<u32>() else { continue };
        if dest != 0 || mask != 0 || flags & (RTF_UP | RTF_GATEWAY) != RTF_UP | RTF_GATEWAY || gw == 0 {
            continue;
        }
        // The kernel prints the address as a native-endian integer of the network-order bytes.
        let ip = Ipv4Addr::from(gw.to_ne_bytes());
        if best.is_none_or(|(m, _)| metric < m) {
            best = Some((metric, ip));
        }
    }
    best.map(|(_, ip)| ip)
}

/// Reads the live route table.
pub(crate) fn default_gateway() -> Result<Ipv4Addr, String> {
    use std::io::Read;
    let mut text = String::new();
    std::fs::File::open(ROUTE_TABLE)
        .and_then(|f| f.take(MAX_SIZE).read_to_string(&mut text))
        .map_err(|e| format!("cannot read {ROUTE_TABLE}: {e}"))?;
    parse_default_gateway(&text).ok_or_else(|| format!("no default route in {ROUTE_TABLE}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str =
        "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n";

    #[test]
    fn finds_the_docker_bridge_gateway() {
        let table = format!(
            "{HEADER}eth0\t00000000\t010011AC\t0003\t0\t0\t0\t00000000\t0\t0\t0\neth0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n"
        );
        if cfg!(target_endian = "little") {
            assert_eq!(parse_default_gateway(&table), Some(Ipv4Addr::new(172, 17, 0, 1)));
        }
    }

    #[test]
    fn prefers_the_lowest_metric_and_ignores_down_or_direct_routes() {
        let table = format!(
            "{HEADER}eth1\t00000000\t0200000A\t0003\t0\t0\t100\t00000000\t0\t0\t0\n\
             eth0\t00000000\t0100000A\t0003\t0\t0\t10\t00000000\t0\t0\t0\n\
             eth2\t00000000\t0300000A\t0002\t0\t0\t0\t00000000\t0\t0\t0\n\
             eth3\t00000000\t00000000\t0001\t0\t0\t0\t00000000\t0\t0\t0\n"
        );
        if cfg!(target_endian = "little") {
            assert_eq!(parse_default_gateway(&table), Some(Ipv4Addr::new(10, 0, 0, 1)));
        }
    }

    #[test]
    fn no_default_route_and_garbage_give_none() {
        assert_eq!(parse_default_gateway(HEADER), None);
        assert_eq!(parse_default_gateway(""), None);
        assert_eq!(parse_default_gateway("x\ny z\n\u{0}\u{0}\n"), None);
        let bad = format!("{HEADER}eth0\t00000000\tZZZZ\t0003\t0\t0\t0\t00000000\t0\t0\t0\n");
        assert_eq!(parse_default_gateway(&bad), None);
    }
}
