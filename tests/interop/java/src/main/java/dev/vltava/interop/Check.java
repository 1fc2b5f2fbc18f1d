package dev.vltava.interop;

import java.util.Objects;
import java.util.function.BooleanSupplier;

/** Assertions for the scenarios: each failure throws an AssertionError naming what differed. */
final class Check {
    private Check() {}

    static void equal(Object expected, Object actual, String what) {
        if (!Objects.equals(expected, actual)) {
            throw new AssertionError(what + ": expected <" + expected + "> but was <" + actual + ">");
        }
    }

    static void isTrue(boolean cond, String what) {
        if (!cond) {
            throw new AssertionError(what);
        }
    }

    /** Polls cond every 100 ms until it holds or timeoutMs passes. */
    static void eventually(BooleanSupplier cond, long timeoutMs, String what) throws InterruptedException {
        long deadline = System.currentTimeMillis() + timeoutMs;
        while (!cond.getAsBoolean()) {
            if (System.currentTimeMillis() > deadline) {
                throw new AssertionError("timed out after " + timeoutMs + " ms: " + what);
            }
            Thread.sleep(100);
        }
    }

    /** Runs body and asserts that it throws an exception whose cause chain holds type. */
    static void throwsCause(Class<? extends Throwable> type, ThrowingRunnable body, String what) {
        try {
            body.run();
        } catch (Throwable t) {
            for (Throwable c = t; c != null; c = c.getCause()) {
                if (type.isInstance(c)) {
                    return;
                }
            }
            throw new AssertionError(what + ": expected " + type.getSimpleName() + " but got " + t, t);
        }
        throw new AssertionError(what + ": expected " + type.getSimpleName() + " but nothing was thrown");
    }

    interface ThrowingRunnable {
        void run() throws Exception;
    }
}
