/** An app (Express, or any `node:http` request listener) on a free loopback port. */

import { type RequestListener, type Server, createServer } from "node:http";
import type { AddressInfo } from "node:net";

/** A listening app: its server and its `http://localhost:<port>` URL (a loopback host, as the development cookie needs). */
export interface Listening {
  server: Server;
  url: string;
  close(): Promise<void>;
}

/** Starts `app` on 127.0.0.1, a free port. */
export async function listen(app: RequestListener): Promise<Listening> {
  const server = createServer(app);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    server,
    url: `http://localhost:${(server.address() as AddressInfo).port}`,
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
