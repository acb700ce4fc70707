/* Writes N JSON-line records of about 250 bytes (the sink benchmark input):
 *   gen_records N [seed] > records.jsonl
 * Keys are unique ("user-<i>"), so no folding flatters the figures. */
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s N [seed]\n", argv[0]);
        return 2;
    }
    long long n = atoll(argv[1]);
    unsigned seed = argc > 2 ? (unsigned)atoi(argv[2]) : 42;
    srand(seed);
    static const char *beh[] = {"click", "view", "purchase", "cart", "share"};
    for (long long i = 0; i < n; i++) {
        printf("{\"id\":\"user-%010lld\",\"item_id\":%d,\"category_id\":%d,\"behavior\":\"%s\","
               "\"price\":%d.%02d,\"ts\":\"2026-11-21T12:%02d:%02d.%03dZ\",\"active\":%s,"
               "\"tags\":[\"t%d\",\"t%d\"],\"note\":\"lorem ipsum dolor sit amet adipiscing "
               "sed do eiusmod tempor incididunt %08d\"}\n",
               i, rand() % 100000, rand() % 1000, beh[rand() % 5], rand() % 1000, rand() % 100, rand() % 60,
               rand() % 60, rand() % 1000, (rand() & 1) ? "true" : "false", rand() % 50, rand() % 50 + 50,
               rand());
    }
    return 0;
}
