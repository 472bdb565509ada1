package herald;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.List;
import java.util.Map;

import org.opensearch.analysis.common.CommonAnalysisPlugin;
import org.opensearch.cluster.service.ClusterService;
import org.opensearch.common.settings.Settings;
import org.opensearch.env.Environment;
import org.opensearch.node.InternalSettingsPreparer;
import org.opensearch.node.Node;
import org.opensearch.transport.Netty4Plugin;

/** One OpenSearch node in this JVM: java herald.TestNode HOME HTTP_PORT. */
public final class TestNode extends Node {
    private TestNode(Environment env) {
        super(env, List.of(Netty4Plugin.class, CommonAnalysisPlugin.class), true);
    }

    @Override
    protected void configureNodeAndClusterIdStateListener(ClusterService clusterService) {
        // the runner's workaround: no node-id log listener
    }

    public static void main(String[] args) throws Exception {
        String home = args[0];
        String port = args[1];
        for (String d : new String[] {"config", "data", "logs", "modules", "plugins"}) {
            Files.createDirectories(Paths.get(home, d));
        }
        Settings s = Settings.builder()
                .put("path.home", home).put("path.data", home + "/data").put("path.logs", home + "/logs")
                .put("cluster.name", "herald-test").put("node.name", "n1")
                .put("discovery.type", "single-node")
                .put("network.host", "127.0.0.1").put("http.port", port).put("transport.port", "0")
                .put("http.type", "netty4").put("transport.type", "netty4")
                .put("node.store.allow_mmap", false)
                .put("cluster.routing.allocation.disk.threshold_enabled", false)
                .build();
        Path config = Paths.get(home, "config");
        Environment env = InternalSettingsPreparer.prepareEnvironment(s, Map.of(), config, () -> "n1");
        TestNode node = new TestNode(env);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try { node.close(); } catch (Exception e) { /* exiting */ }
        }));
        node.start();
        System.out.println("herald-test-opensearch started on 127.0.0.1:" + port);
        Thread.currentThread().join();
    }
}
