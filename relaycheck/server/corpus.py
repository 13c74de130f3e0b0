"""The embedded training text of the reference model: short plain-English documents.

Everything here is original text written for relaycheck, plus a few generated documents (counting, the
alphabet, weekdays). Documents are separated by the end-of-text token when the model is trained, exactly as
GPT-style corpora are. Two documents carry guarantees the rest of the project relies on:

- the counting document makes ``"1, 2, 3, 4,"`` continue greedily as ``" 5, 6, 7, …"`` for hundreds of tokens;
- the test document makes ``"Say this is a test"`` continue with plain English.

Keep the prose free of ``", <number>,"`` patterns: they would compete with the counting document.
"""

from __future__ import annotations

COUNT_TO = (
    400  # the counting document runs 1..COUNT_TO; the vocabulary holds every number up to NUMBER_TOKENS
)
NUMBER_TOKENS = 1000

_PROSE = """\
Say this is a test. This is a test of the system, and it is only a test. If this had been a real \
message, you would have been told what to do next. This is a test. This is only a test, so there is \
nothing to worry about.

Say this is a test. This is a test. The quick brown fox jumps over the lazy dog. The lazy dog did not \
move, and the fox ran back into the woods. Every good test should be short, clear and easy to repeat.

Hello, world! This is the first program that many people write when they learn a new language. It prints \
a short greeting and then it stops. After that, the real work begins.

Once upon a time there was a small village at the edge of a great forest. The people of the village were \
farmers, and they worked from the first light of the morning until the sun went down. In the evening they \
sat by the fire and told stories about the old days. One day a young girl named Anna walked into the forest \
to look for her lost goat. She walked for a long time, and the trees grew taller and the path grew darker. \
At last she found the goat standing beside a clear blue lake. She led it home before the night came, and \
the whole village was happy to see her again.

The weather today is mild and sunny, with a light wind from the west. Tomorrow will be cooler, and there \
may be some rain in the afternoon. The weekend should be dry and warm, so it is a good time to go outside, \
walk in the park or work in the garden.

To make a simple cup of tea, first boil some fresh water. Put a tea bag in a cup and pour the hot water \
over it. Let it stand for three minutes, then take out the bag. Add milk or sugar if you like, and enjoy \
your tea while it is still warm.

A computer is a machine that follows a list of instructions called a program. The program tells the \
computer how to read data, how to change it and where to store the result. Modern computers can do \
billions of simple steps every second, which is why they seem so fast to the people who use them.

The Python programming language is known for its clear and readable style. A function is defined with the \
word def, followed by its name and a list of parameters. Python is used for web servers, for data \
analysis, for science and for teaching people how to program.

An API is a way for one program to talk to another. A client sends a request to a server, and the server \
sends back a response. The request names the model and the prompt, and the response contains the text \
that the model generated. If something goes wrong, the server returns an error with a clear message.

A language model reads a sequence of tokens and predicts the next one. Each token is a short piece of \
text, such as a word, a part of a word or a single character. The model gives every possible token a \
score, and the scores are turned into probabilities. A low temperature makes the model choose the most \
likely token, while a high temperature makes its choices more random and more surprising.

The sun is a star at the center of our solar system. The earth moves around the sun once every year, and \
it turns on its own axis once every day. The moon moves around the earth, and its light is the light of \
the sun reflected back to us. On a clear night you can see thousands of stars in the sky.

Water is made of hydrogen and oxygen. It freezes into ice when it is cold and turns into steam when it is \
hot. All living things need water, and most of the surface of the earth is covered by the sea.

The history of the city goes back more than a thousand years. It began as a small market town on the \
river, where farmers came to sell their grain and their animals. Over time the town grew into a busy port, \
and ships from many countries came to trade. Today the old market square is full of shops and cafes, and \
visitors come from all over the world to see the old buildings.

My favorite food is fresh bread with butter. I also like soup, rice and green vegetables. On Sunday we \
often cook a large meal for the whole family, and everyone helps in the kitchen.

Q: What is the capital of France?
A: The capital of France is Paris.

Q: How many days are there in a week?
A: There are seven days in a week.

Q: What color is the sky on a clear day?
A: The sky is blue on a clear day.

Q: Who wrote this text?
A: This text was written for a test of a small language model.

The meeting will start at nine in the morning. Please bring your notes and be ready to share your ideas. \
We will talk about the plan for the next month, and then we will answer any questions from the team.

Sure! Here is a response: thank you for your question. I am happy to help you with it, and here is what \
I think you should do next.

Thank you for your message. I am happy to help you with your question. Please let me know if there is \
anything else I can do for you. Have a nice day.

In the beginning of the project the team wrote down a short list of goals. The first goal was to make the \
service easy to use. The second goal was to make it fast and reliable. The third goal was to test every \
part of it, so that nothing would break when the code changed.

She opened the door and looked out at the garden. The rain had stopped, and the air smelled of wet grass \
and flowers. A bird was singing in the old apple tree, and somewhere far away a dog was barking. It was \
going to be a beautiful day.

Good morning! How are you today? I hope you slept well. The coffee is ready, and there is fresh fruit on \
the table. We can leave for the station after breakfast.
"""


def _counting() -> str:
    return ", ".join(str(i) for i in range(1, COUNT_TO + 1)) + "."


def _generated() -> list[str]:
    return [
        _counting(),
        "A, B, C, D, E, F, G, H, I, J, K, L, M, N, O, P, Q, R, S, T, U, V, W, X, Y, Z.",
        "Monday, Tuesday, Wednesday, Thursday, Friday, Saturday and Sunday are the seven days of the week.",
        "January, February, March, April, May, June, July, August, September, October, November and "
        "December are the twelve months of the year.",
    ]


GENERATED_WEIGHT = 0.02  # the generated lists would otherwise swamp what follows "," in the prose


def documents() -> tuple[tuple[str, float], ...]:
    """The training documents with the weight of their n-gram counts, in a fixed order (ids depend on it)."""
    prose = [(doc.strip(), 1.0) for doc in _PROSE.split("\n\n") if doc.strip()]
    return tuple(prose + [(doc, GENERATED_WEIGHT) for doc in _generated()])
