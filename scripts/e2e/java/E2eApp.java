// ddboot e2e: the app. Says whether the agent's premain ran first, and what the JVM was given.
public final class E2eApp {
    public static void main(String[] args) {
        System.out.println("e2e-app: started agent_loaded=" + System.getProperty("e2e.agent.loaded", "false")
                + " JAVA_TOOL_OPTIONS=" + System.getenv("JAVA_TOOL_OPTIONS")
                + " DD_AGENT_HOST=" + System.getenv("DD_AGENT_HOST"));
    }
}
