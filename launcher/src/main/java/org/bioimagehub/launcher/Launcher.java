package org.bioimagehub.launcher;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.CountDownLatch;

import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.connectors.BoltConnectorInternalSettings;
import org.neo4j.configuration.connectors.HttpConnector;
import org.neo4j.configuration.connectors.HttpsConnector;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.dbms.api.DatabaseManagementService;
import org.neo4j.dbms.api.DatabaseManagementServiceBuilder;
import org.neo4j.graphdb.GraphDatabaseService;
import org.neo4j.io.ByteUnit;

/**
 * Runs Neo4j Community embedded, with its Bolt connector bound to 127.0.0.1 only.
 *
 * <p>Why a launcher of our own: the hub needs a graph database for development and small
 * deployments without installing a Neo4j server package; embedding the Community jars gives us
 * exactly that, and Python talks to it over Bolt like to any external server.
 *
 * <p>Options (command line wins over system properties, which win over defaults):
 *
 * <pre>
 *   --home DIR         -Dbioimagehub.home=DIR         (default ./var/neo4j) data in DIR/data, logs in DIR/logs
 *   --bolt-port N      -Dbioimagehub.boltPort=N       (default 7687)
 *   --http-port N      -Dbioimagehub.httpPort=N       (default: HTTP connector off)
 *   --pagecache SIZE   -Dbioimagehub.pagecache=SIZE   (default 512m; accepts k/m/g suffixes)
 *   --tx-memory SIZE   -Dbioimagehub.txMemory=SIZE    (default 256m; global cap for transaction memory)
 * </pre>
 *
 * <p>Authentication is disabled: the connectors listen on loopback only, so only local processes
 * can connect, and drivers may pass any credentials. Use an external Neo4j server (NEO4J_URI) for
 * anything multi-user.
 *
 * <p>Once the default database answers a query the launcher prints one line starting with {@link
 * #READY_PREFIX}; on SIGTERM/SIGINT a shutdown hook stops the DBMS cleanly (flushes the page
 * cache and transaction logs) before the JVM exits.
 */
public final class Launcher {

    /** Prefix of the single line printed when the database is ready (parsed by humans and tests). */
    public static final String READY_PREFIX = "BIOIMAGE-HUB-NEO4J READY";

    private Launcher() {}

    public static void main(String[] args) throws Exception {
        Map<String, String> opts = parseArgs(args);
        Path home = Path.of(opt(opts, "home", "bioimagehub.home", "var/neo4j")).toAbsolutePath().normalize();
        int boltPort = Integer.parseInt(opt(opts, "bolt-port", "bioimagehub.boltPort", "7687"));
        String httpPortText = opt(opts, "http-port", "bioimagehub.httpPort", "");
        long pagecache = parseBytes(opt(opts, "pagecache", "bioimagehub.pagecache", "512m"));
        long txMemory = parseBytes(opt(opts, "tx-memory", "bioimagehub.txMemory", "256m"));

        Path logs = home.resolve("logs");
        Files.createDirectories(home.resolve("data"));
        Files.createDirectories(logs);

        DatabaseManagementServiceBuilder builder = new DatabaseManagementServiceBuilder(home)
                .setConfig(GraphDatabaseSettings.data_directory, home.resolve("data"))
                .setConfig(GraphDatabaseSettings.logs_directory, logs)
                .setConfig(GraphDatabaseSettings.auth_enabled, false)
                .setConfig(GraphDatabaseSettings.pagecache_memory, pagecache)
                .setConfig(GraphDatabaseSettings.memory_transaction_global_max_size, txMemory)
                .setConfig(GraphDatabaseSettings.udc_enabled, false)
                .setConfig(BoltConnector.enabled, true)
                .setConfig(BoltConnector.listen_address, new SocketAddress("127.0.0.1", boltPort))
                .setConfig(BoltConnector.advertised_address, new SocketAddress("127.0.0.1", boltPort))
                .setConfig(HttpsConnector.enabled, false)
                // Bolt waits 5 s + 5 s for idle connections/threads on shutdown by default; a local
                // single-user instance has nothing to drain, so keep `stop` quick.
                .setConfig(BoltConnectorInternalSettings.thread_pool_shutdown_wait_time, Duration.ofSeconds(1))
                .setConfig(BoltConnectorInternalSettings.connection_shutdown_wait_time, Duration.ofSeconds(1));
        if (httpPortText.isBlank()) {
            builder.setConfig(HttpConnector.enabled, false);
        } else {
            int httpPort = Integer.parseInt(httpPortText.trim());
            builder.setConfig(HttpConnector.enabled, true)
                    .setConfig(HttpConnector.listen_address, new SocketAddress("127.0.0.1", httpPort))
                    .setConfig(HttpConnector.advertised_address, new SocketAddress("127.0.0.1", httpPort));
        }

        System.out.printf("Starting Neo4j %s embedded: home=%s bolt=127.0.0.1:%d http=%s pagecache=%s%n",
                neo4jVersion(), home, boltPort, httpPortText.isBlank() ? "off" : "127.0.0.1:" + httpPortText,
                ByteUnit.bytesToString(pagecache));
        System.out.flush();

        DatabaseManagementService dbms = builder.build();
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            System.out.println("BIOIMAGE-HUB-NEO4J stopping");
            System.out.flush();
            try {
                dbms.shutdown();
            } finally {
                System.out.println("BIOIMAGE-HUB-NEO4J stopped");
                System.out.flush();
                stopped.countDown();
            }
        }, "neo4j-shutdown"));

        // Wait until the default database really answers (build() may return before it is online).
        GraphDatabaseService db = dbms.database(GraphDatabaseSettings.DEFAULT_DATABASE_NAME);
        db.executeTransactionally("RETURN 1");
        System.out.printf("%s version=%s bolt=bolt://127.0.0.1:%d pid=%d%n",
                READY_PREFIX, neo4jVersion(), boltPort, ProcessHandle.current().pid());
        System.out.flush();

        stopped.await(); // keep the main thread alive until the shutdown hook has run
    }

    private static String neo4jVersion() {
        return org.neo4j.kernel.internal.Version.getNeo4jVersion();
    }

    private static Map<String, String> parseArgs(String[] args) {
        Map<String, String> opts = new HashMap<>();
        for (int i = 0; i < args.length; i++) {
            String arg = args[i];
            if (arg.equals("-h") || arg.equals("--help")) {
                System.out.println("usage: Launcher [--home DIR] [--bolt-port N] [--http-port N]"
                        + " [--pagecache SIZE] [--tx-memory SIZE]");
                System.exit(0);
            }
            if (!arg.startsWith("--")) {
                throw new IllegalArgumentException("unexpected argument: " + arg);
            }
            String key = arg.substring(2);
            String value;
            int eq = key.indexOf('=');
            if (eq >= 0) {
                value = key.substring(eq + 1);
                key = key.substring(0, eq);
            } else if (i + 1 < args.length) {
                value = args[++i];
            } else {
                throw new IllegalArgumentException("missing value for --" + key);
            }
            opts.put(key, value);
        }
        return opts;
    }

    private static String opt(Map<String, String> opts, String key, String property, String dflt) {
        String value = opts.get(key);
        return value != null ? value : System.getProperty(property, dflt);
    }

    private static long parseBytes(String text) {
        String t = text.trim().toLowerCase();
        long factor = 1;
        char last = t.charAt(t.length() - 1);
        if (last == 'k' || last == 'm' || last == 'g') {
            factor = last == 'k' ? 1L << 10 : last == 'm' ? 1L << 20 : 1L << 30;
            t = t.substring(0, t.length() - 1);
        }
        return Long.parseLong(t) * factor;
    }
}
