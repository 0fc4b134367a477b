// ddboot e2e: a stand-in for dd-java-agent.jar. The JVM runs premain before main only when it
// was started with -javaagent:<this jar> (here: from JAVA_TOOL_OPTIONS, set by ddboot).
public final class E2eAgent {
    public static void premain(String args) {
        System.out.println("e2e-agent: premain DD_AGENT_HOST=" + System.getenv("DD_AGENT_HOST")
                + " DD_SERVICE=" + System.getenv("DD_SERVICE")
                + " DD_ENV=" + System.getenv("DD_ENV")
                + " DD_VERSION=" + System.getenv("DD_VERSION"));
        System.setProperty("e2e.agent.loaded", "true");
    }
}
