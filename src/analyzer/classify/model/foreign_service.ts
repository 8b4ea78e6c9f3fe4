/**
 * Service ports of infrastructure protocols that none of the ISCX VPN-nonVPN 2016 applications
 * used: the dataset's classes are browsers, mail clients (SMTP/POP3/IMAP), chat, streaming,
 * file transfer (Skype, FTPS, SFTP), VoIP and BitTorrent, over the open Internet or a VPN
 * (Draper-Gil et al., ICISSP 2016, table 1). A flow to one of these is outside the model's
 * domain however its timing looks: syslog datagrams or a memcached session have the same
 * inter-arrival statistics as ISCX rows, so no feature range can tell them apart.
 */
const FOREIGN_PORTS: ReadonlyMap<number, string> = new Map([
  [53, "dns"],
  [67, "dhcp"],
  [68, "dhcp"],
  [69, "tftp"],
  [88, "kerberos"],
  [111, "rpcbind"],
  [123, "ntp"],
  [137, "netbios"],
  [138, "netbios"],
  [139, "netbios"],
  [161, "snmp"],
  [162, "snmp"],
  [389, "ldap"],
  [445, "smb"],
  [514, "syslog"],
  [546, "dhcpv6"],
  [547, "dhcpv6"],
  [601, "syslog"],
  [636, "ldaps"],
  [853, "dns"],
  [1900, "ssdp"],
  [2049, "nfs"],
  [3306, "mysql"],
  [5140, "syslog"], // fluentd's and qts's own syslog input
  [5353, "mdns"],
  [5355, "llmnr"],
  [5432, "postgresql"],
  [6379, "redis"],
  [6514, "syslog"],
  [11211, "memcached"],
  [27017, "mongodb"],
]);

/** IP protocols the ISCX flows have: ISCXFlowMeter builds TCP and UDP flows only. */
const PROTOCOLS: ReadonlyMap<number, string> = new Map([[6, "tcp"], [17, "udp"]]);

/**
 * Why a flow is outside the classifier's domain by its protocol or ports, e.g. `udp/514 syslog`
 * or `protocol 1`; undefined when nothing rules it out. Either port counts, so a flow seen from
 * its reply side (capture started mid-way) is caught too.
 */
export function foreignService(
  protocol: number,
  srcPort: number,
  dstPort: number,
): string | undefined {
  const name = PROTOCOLS.get(protocol);
  if (name === undefined) return `protocol ${protocol}`;
  for (const port of [dstPort, srcPort]) {
    const service = FOREIGN_PORTS.get(port);
    if (service !== undefined) return `${name}/${port} ${service}`;
  }
  return undefined;
}
