/**
 * The addresses at which other computers can reach this one, read from its
 * network interfaces without ever prompting for the permission.
 *
 * @module
 */

/**
 * Whether this computer's network interfaces may be read without a prompt.
 *
 * @returns true when `--allow-sys` (or `--allow-sys=networkInterfaces`) is granted
 */
export function canReadNetworkAddresses(): boolean {
  return Deno.permissions.querySync({ name: "sys", kind: "networkInterfaces" }).state === "granted";
}

/**
 * The addresses other computers can use to reach this one: its non-loopback
 * network addresses (IPv4 first, IPv6 link-local ones aside), or none when
 * the interfaces may not be read.
 *
 * @returns addresses such as `192.168.1.20` or `2001:db8::1`
 */
export function networkAddresses(): string[] {
  if (!canReadNetworkAddresses()) return [];
  const seen = new Set<string>();
  const found: { address: string; v4: boolean }[] = [];
  for (const item of Deno.networkInterfaces()) {
    if (isLoopback(item.address)) continue;
    if (item.family === "IPv6" && item.address.toLowerCase().startsWith("fe80")) continue;
    if (seen.has(item.address)) continue;
    seen.add(item.address);
    found.push({ address: item.address, v4: item.family === "IPv4" });
  }
  return [...found.filter((a) => a.v4), ...found.filter((a) => !a.v4)].map((a) => a.address);
}

/**
 * Whether an address is this computer's own loopback, which no other computer reaches.
 *
 * @param address an IPv4 or IPv6 address
 * @returns true for 127.0.0.0/8 and ::1
 */
export function isLoopback(address: string): boolean {
  return address.startsWith("127.") || address === "::1";
}
