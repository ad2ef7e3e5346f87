'use strict';
// Real gRPC backends and a real proxyless xDS client (@grpc/grpc-js-xds) for tests.
// Each client gets its own bootstrap through the channel option grpc-js-xds reads
// before its process-wide GRPC_XDS_BOOTSTRAP, so one test process can talk to two
// keel-discovery instances.

const grpc = require('@grpc/grpc-js');

const { freePort } = require('./common');

const METHOD = '/keel.test.Echo/Who';
const BOOTSTRAP_OPTION = 'grpc.TEST_ONLY_DO_NOT_USE_IN_PROD.xds_bootstrap_config';

let registered = false;
function registerXds() {
  if (!registered) {
    require('@grpc/grpc-js-xds').register();
    registered = true;
  }
}

// Starts one Echo server per backend ({name, ip}) on the SAME port P of each IP;
// each answers its name. Returns {port, servers, shutdown()}.
async function startEchoServers(backends) {
  const service = {
    Who: {
      path: METHOD,
      requestStream: false,
      responseStream: false,
      requestSerialize: (b) => b,
      requestDeserialize: (b) => b,
      responseSerialize: (b) => b,
      responseDeserialize: (b) => b,
    },
  };
  let lastErr;
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort(backends[0].ip);
    const started = [];
    try {
      for (const b of backends) {
        const server = new grpc.Server();
        server.addService(service, { Who: (_call, cb) => cb(null, Buffer.from(b.name)) });
        started.push(server);
        await new Promise((resolve, reject) =>
          server.bindAsync(`${b.ip}:${port}`, grpc.ServerCredentials.createInsecure(), (err, p) =>
            err ? reject(err) : resolve(p),
          ),
        );
      }
      return { port, servers: started, shutdown: () => started.forEach((s) => s.forceShutdown()) };
    } catch (e) {
      lastErr = e;
      for (const s of started) s.forceShutdown();
    }
  }
  throw new Error(`could not start echo servers on ${backends.map((b) => b.ip).join(', ')}: ${lastErr}`);
}

function bootstrap(grpcPort, nodeId, ns) {
  return {
    xds_servers: [
      { server_uri: `127.0.0.1:${grpcPort}`, channel_creds: [{ type: 'insecure' }], server_features: ['xds_v3'] },
    ],
    node: { id: nodeId, locality: {}, metadata: { GENERATOR: 'grpc', NAMESPACE: ns } },
  };
}

// A grpc.Client dialling xds:///target through keel-discovery at grpcPort.
function xdsClient(target, grpcPort, nodeId, ns) {
  registerXds();
  return new grpc.Client(`xds:///${target}`, grpc.credentials.createInsecure(), {
    [BOOTSTRAP_OPTION]: JSON.stringify(bootstrap(grpcPort, nodeId, ns)),
  });
}

// One unary Who call: {ok:true, value} or {ok:false, error}.
function who(client, timeoutMs = 2000) {
  return new Promise((resolve) => {
    client.makeUnaryRequest(
      METHOD,
      (x) => x,
      (x) => x,
      Buffer.alloc(0),
      { deadline: Date.now() + timeoutMs },
      (err, resp) => {
        if (err) resolve({ ok: false, error: `${err.code} ${err.details || err.message}` });
        else resolve({ ok: true, value: resp.toString('utf8') });
      },
    );
  });
}

// n calls; returns the answers ("ERROR(...)" for failures).
async function answers(client, n) {
  const got = [];
  for (let i = 0; i < n; i++) {
    const r = await who(client);
    got.push(r.ok ? r.value : `ERROR(${r.error})`);
  }
  return got;
}

module.exports = { METHOD, startEchoServers, xdsClient, who, answers, bootstrap };
