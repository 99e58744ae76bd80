// Prints each list that browse() (lib/net/discover.ts) reports, as one JSON
// line of [name, port] pairs, until killed. Run in a test's network namespace:
// `deno run --allow-net browse_probe.ts`.

import { browse } from "../../lib/net/discover.ts";

await browse({
  onChange: (servers) => console.log(JSON.stringify(servers.map((s) => [s.name, s.port]))),
});
