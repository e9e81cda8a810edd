"""Phrase banks, word lists and palettes for the offline providers (data only, no logic).

A story is five beats (setting, want, obstacle, turn, resolution). Each beat is a list of
slots `(name, level, options)`: a slot is used when the requested length reaches its level
(0 short, 1 medium, 2 long), and `options` is either a list of sentences or a dict from style to
a list of sentences. Sentences are `str.format` templates over the story's cast:

  English: {hero} {Hero} (the hero's name), {hero_desc} (e.g. "a little fox named Pip"),
           {they} {They} {them} {their} {Their}, {place} {Place} (first mention), {the_place} (later), {object} / {the_object},
           {companion}, {about} (what the topic is about), {goal} (a verb phrase, e.g.
           "see the sea"), {achieved} (e.g. "finally got to see the sea").
  Chinese: {hero} (name), {hero_desc} (e.g. "一只名叫小禾的小狐狸"), {ta} (他/她/它), {place} / {the_place},
           {object} / {the_object}, {companion}, {about}, {goal}, {achieved}.
"""
# ruff: noqa: E501  (phrase banks: each sentence stays whole on its line, to read and translate)
from __future__ import annotations

from typing import Any

# The styles (storynb.settings.STYLES) with a phrase bank of their own; the others, and any words
# a user types, pick the bank whose words they contain (STYLE_ALIASES), else "warm".
BANK_STYLES = ("warm", "suspenseful", "epic", "whimsical")

# Words (lowercase) that pick a bank when the requested style is not one of BANK_STYLES.
STYLE_ALIASES = {
    "warm": ["warm", "heartwarming", "gentle", "cozy", "cosy", "tender", "healing", "family",
             "温暖", "温馨", "治愈", "感人", "亲情", "melancholic", "bittersweet", "nostalgic", "documentary",
             "伤感", "怀旧", "纪实"],
    "suspenseful": ["suspense", "mystery", "thriller", "dark", "horror", "noir", "tense", "creepy",
                 "悬疑", "惊悚", "神秘", "紧张", "恐怖", "推理"],
    "epic": ["epic", "heroic", "adventure", "grand", "legend", "war", "myth", "史诗", "宏大",
             "冒险", "英雄", "传奇", "热血"],
    "whimsical": ["whimsical", "funny", "playful", "fairy", "fairytale", "fantasy", "comic",
                  "humor", "humour", "silly", "magic", "童话", "奇幻", "幽默", "搞笑", "可爱", "魔法"],
}

CHILD_AUDIENCE = ["child", "children", "kid", "kids", "family", "bedtime", "孩子", "儿童", "小朋友",
                  "幼儿", "亲子", "小学"]

# ---------------------------------------------------------------------------------- English
EN_NAMES = [("Mara", "she"), ("Theo", "he"), ("Iris", "she"), ("Jonah", "he"), ("Nell", "she"),
            ("Arlo", "he"), ("Wren", "she"), ("Elias", "he"), ("Juno", "she"), ("Felix", "he"),
            ("Ada", "she"), ("Pip", "he"), ("Lena", "she"), ("Oskar", "he")]

EN_ROLES = [("young mapmaker", None), ("lighthouse keeper's daughter", "she"),
            ("baker's apprentice", None), ("clockmaker", None), ("quiet schoolteacher", None),
            ("feather collector", None), ("kite mender", None), ("retired sailor", None),
            ("shy violinist", None), ("night-train conductor", None), ("fisherman's son", "he")]

# Character nouns a topic may name; gender when the word implies one.
EN_CHARACTERS = {
    "girl": "she", "woman": "she", "princess": "she", "queen": "she", "grandmother": "she",
    "grandma": "she", "witch": "she", "daughter": "she", "mother": "she", "sister": "she",
    "boy": "he", "man": "he", "prince": "he", "king": "he", "grandfather": "he", "grandpa": "he",
    "fisherman": "he", "son": "he", "father": "he", "brother": "he",
    "child": None, "kid": None, "fox": None, "cat": None, "dog": None, "robot": None,
    "dragon": None, "keeper": None, "whale": None, "bird": None, "owl": None, "rabbit": None,
    "bear": None, "wolf": None, "mouse": None, "knight": None, "sailor": None, "wizard": None,
    "painter": None, "baker": None, "student": None, "teacher": None, "astronaut": None,
    "detective": None, "mapmaker": None, "musician": None, "orphan": None, "soldier": None,
    "farmer": None, "traveler": None, "traveller": None, "penguin": None, "turtle": None,
    "squirrel": None, "deer": None, "horse": None, "ghost": None, "giant": None, "elephant": None,
    "doctor": None, "explorer": None, "pilot": None, "monk": None, "poet": None, "chef": None,
    "mermaid": "she", "kitten": None, "puppy": None, "cub": None, "lion": None, "tiger": None, "frog": None,
    "duck": None, "duckling": None, "otter": None, "hedgehog": None, "panda": None, "octopus": None,
    "crab": None, "snail": None, "bee": None, "butterfly": None, "firefly": None, "crow": None,
    "raven": None, "sparrow": None, "eagle": None, "pig": None, "goat": None, "sheep": None,
    "dinosaur": None, "unicorn": None, "fairy": None, "alien": None, "inventor": None, "scientist": None,
    "librarian": None, "gardener": None, "shepherd": None, "pirate": None, "captain": None,
    "postman": "he", "dancer": None, "singer": None, "writer": None, "tailor": None,
}

# (first mention, later mentions)
EN_PLACES = {
    "warm": [("a small harbour town", "the harbour town"),
             ("a village at the edge of the tea hills", "the village"),
             ("a quiet street of bakeries and bookshops", "the little street"),
             ("a farmhouse beside a slow river", "the farmhouse")],
    "suspenseful": [("a fog-bound port town", "the port town"),
                 ("an old hillside town with one locked tower", "the old town"),
                 ("a village where the bells rang at midnight", "the village"),
                 ("a half-empty hotel by the sea", "the hotel")],
    "epic": [("a kingdom of high stone walls", "the kingdom"),
             ("the last free city of the north", "the free city"),
             ("a mountain fortress above the clouds", "the fortress"),
             ("a realm at the edge of the known maps", "the realm")],
    "whimsical": [("a town where the clocks ran backwards on Sundays", "the town"),
                  ("a floating village tied to the clouds with string", "the floating village"),
                  ("a city of crooked chimneys and talkative weathervanes", "the crooked city"),
                  ("a seaside town where the fish gave directions", "the seaside town")],
}

EN_OBJECTS = [("a brass compass", "the compass"), ("a paper lantern", "the lantern"),
              ("an unfinished diary", "the diary"), ("a shell that glowed faintly", "the shell"),
              ("a rusty key", "the key"), ("a faded map", "the map"),
              ("a wooden flute", "the flute"), ("a red scarf", "the scarf")]

EN_COMPANIONS = ["an old ferryman", "a grey cat with one white paw", "a girl who sold paper lanterns",
                 "a retired sea captain", "a crow who could count", "a travelling storyteller",
                 "a kind old baker", "a stranger in a blue coat"]

EN_BEATS = {
    "setting": [
        ("place", 0, {
            "warm": ["In {place}, mornings began with the smell of fresh bread and the cry of gulls.",
                     "Life in {place} moved slowly, and most people liked it that way.",
                     "{Place} was the kind of place where someone always left a light on for you."],
            "suspenseful": ["In {place}, the fog arrived every evening at the same minute, and nobody asked why.",
                         "{Place} had one rule that no one ever wrote down: do not go out after the bells.",
                         "Nothing ever happened in {place}, and that was exactly what made the silence feel wrong."],
            "epic": ["Long ago, when {place} still stood against the wind, people sang of braver days.",
                     "{Place} had survived three winters of war and one of hunger.",
                     "Beyond {place} lay a land that no map had ever finished drawing."],
            "whimsical": ["In {place}, the weather was decided by a vote every Tuesday.",
                          "{Place} was famous for two things: its crooked bridges and its very opinionated pigeons.",
                          "Everyone in {place} owned at least one hat for talking to birds."],
        }),
        ("hero_intro", 0, ["There lived {hero_desc}.", "That was where {hero_desc} lived.",
                           "It was home to {hero_desc}, who noticed things other people missed."]),
        ("hero_detail", 1, ["{Hero} carried {object} everywhere, though {they} never said why.",
                            "Every evening {hero} sat by the window with {object}, watching the horizon.",
                            "{Hero} owned very little, but {they} treasured {object} more than anything."]),
        ("mood", 2, {
            "warm": ["Lamps glowed in the windows, and the air smelled of rain and cinnamon.",
                     "Neighbours waved from their doorsteps, and the days were full of small kindnesses."],
            "suspenseful": ["Some nights, footsteps echoed in streets that were supposed to be empty.",
                         "The old clock in the square had stopped at a quarter past three, years ago."],
            "epic": ["Banners cracked in the wind, and the old songs still spoke of a promise unkept.",
                     "On clear days you could see the far peaks, white and silent, like sleeping giants."],
            "whimsical": ["The lampposts hummed at dusk, mostly out of tune.",
                          "Even the cobblestones seemed to be in a good mood."],
        }),
    ],
    "want": [
        ("want", 0, {
            "goal": ["More than anything, {hero} wanted to {goal}.",
                     "{Hero} had one wish, and it never changed: to {goal}.",
                     "Ever since {they} could remember, {hero} had dreamed of one thing: to {goal}."],
            "about": ["{Hero} could not stop thinking about {about}.",
                      "{Hero} had heard whispers about {about}, and wanted to know the whole story.",
                      "One question followed {hero} everywhere, and it was about {about}."],
        }),
        ("want_reason", 1, ["The grown-ups smiled and said it was nonsense, which only made {hero} more certain.",
                            "{They} wrote it down on a scrap of paper and kept it folded beside {the_object}.",
                            "It seemed a small thing to everyone else, but to {hero} it was the whole world."]),
        ("want_extra", 2, ["So one morning, before anyone else was awake, {hero} packed a bag and set out.",
                           "{Hero} made a plan, crossed it out, and made a better one.",
                           "{They} decided that waiting had gone on long enough."]),
    ],
    "obstacle": [
        ("obstacle", 0, {
            "warm": ["But the road out of {the_place} was long, and winter came early that year.",
                     "But {hero} was afraid, and the fear grew a little bigger every day."],
            "suspenseful": ["One night, {hero} found a door that had not been there the day before.",
                         "That winter the lights went out all across {the_place}, and someone knocked three times."],
            "epic": ["But a storm rose in the north, and the old bridges fell one by one.",
                     "But an army of shadows gathered at the border, and hope grew thin."],
            "whimsical": ["Unfortunately, the wind had stolen every map in town and refused to give them back.",
                          "Unfortunately, the only bridge had decided to take a holiday."],
        }),
        ("struggle", 1, ["{Hero} tried once and failed, then tried again and failed worse.",
                         "Every path {hero} took seemed to lead back to the same place.",
                         "People began to say that {hero} should give up and go home."]),
        ("low", 2, ["That night {hero} sat alone, holding {the_object} and wondering whether the wish had been foolish all along.",
                    "For a long time nothing changed, and {hero} almost stopped believing.",
                    "Even {the_object} felt heavy, as if it too were tired of trying."]),
    ],
    "turn": [
        ("turn", 0, {
            "warm": ["Then {companion} sat down beside {hero} and said, \"You don't have to do this alone.\"",
                     "Then {companion} knocked on the door with a cup of tea and an idea."],
            "suspenseful": ["Then {hero} noticed what everyone else had missed: the footprints led backwards.",
                         "Then {companion} stepped out of the fog and whispered a name {hero} had never heard."],
            "epic": ["Then {hero} climbed the broken tower and saw the whole land laid out like a promise.",
                     "Then {companion} rode in at dawn, carrying a banner everyone had thought lost."],
            "whimsical": ["Then {companion} appeared out of nowhere and offered some extremely useful advice.",
                          "Then a teapot on the windowsill began to whistle a tune that sounded a lot like directions."],
        }),
        ("insight", 1, ["It was not magic; it was simply the first time {hero} had stopped to listen.",
                        "In that moment the problem looked different: smaller, and almost kind.",
                        "{Hero} realised that the answer had been close all along."]),
        ("turn_extra", 2, ["{Hero} held {the_object} up to the light, and for the first time it pointed somewhere new.",
                           "{Hero} laughed out loud, and the sound seemed to open the way.",
                           "With a deep breath, {hero} took the first step again, and this time the ground held."]),
    ],
    "resolution": [
        ("achieved", 0, ["In the end, {hero} {achieved}.", "And so, at last, {hero} {achieved}.",
                         "When the season turned, {hero} {achieved}."]),
        ("reflect", 1, ["It had not happened the way {they} imagined; it had happened better.",
                        "{Hero} understood now that the journey had been part of the answer.",
                        "Nothing in the world had changed very much, except {hero}."]),
        ("keepsake", 2, ["{Hero} kept {the_object} on the windowsill, where the morning light could find it.",
                         "Years later, {hero} still carried {the_object}, and still smiled at it.",
                         "{Hero} gave {the_object} to a child who asked the same questions {they} once had."]),
        ("closing", 0, {
            "warm": ["And whenever the lamps were lit in {the_place}, people told the story again, smiling.",
                     "And from then on, no one in {the_place} ever felt quite so alone."],
            "suspenseful": ["But sometimes, late at night, the door still appears, and only {hero} knows where it leads.",
                         "And yet, on foggy nights, {hero} still counts the knocks, just in case."],
            "epic": ["Songs are still sung about that day, and about the one who would not turn back.",
                     "And the land remembered {hero} long after the storms had passed."],
            "whimsical": ["To this day, the clocks in {the_place} chime twice whenever someone makes a brave wish.",
                          "And the pigeons of {the_place} still argue about who deserves the credit."],
        }),
    ],
}

# Extra sentences from the topic's other clauses: a circumstance ("during the longest storm of the
# year"), an action ("sneak aboard a fishing boat", an infinitive) and a "but" clause (in the past).
EN_WHEN = ["It all came to a head {when}.", "{When}, nothing went the way {hero} had planned."]
EN_ACTION = ["That very night, {hero} made up {their} mind to {action}.",
             "So {hero} gathered {their} courage and chose to {action}.",
             "The next morning, {hero} found the nerve to {action}."]
EN_BUT = ["But {but}."]
EN_TRAIT = ["{Hero} loved to {trait}.", "More than most, {hero} liked to {trait}."]

# Common verbs (base forms): a word of a topic that is one of these plus "s" starts a new clause.
EN_VERBS = frozenset("""
accept admire answer appear arrive ask awake bake battle become befriend begin believe belong bring
build burn buy call camp carry catch chase cheat climb close collect come comfort cook count cover
crawl create cross cry dance dare decide defeat defend deliver design dig discover disguise dive
draw dream drift drink drive drop earn eat enter escape explore face fail fall feed feel fight find
finish fish fix float flee fly follow forget forgive gather get give go grow guard guide hatch hate
have hear help hide hike hold hope hunt imagine invent join journey jump keep kick kill kiss knit
knock know land laugh lead learn leave lend lie lift light like listen live look lose love make
marry meet melt mend miss move need notice offer open paint pass pick plant play promise protect
pull push race rain reach read realise realize rebuild receive remember repair rescue rest return
ride ring rise roam row run sail save say search see seek sell send set share shine shout sing
sink sit skate sleep slide smile sneak solve speak spend spot stand start stay steal stop sweep swim
take talk teach tell think throw train travel trick try turn uncover understand unlock uncover use
visit wait wake walk wander want wash watch wear win wish wonder work worry write
""".split())

EN_CHILD_MORAL = ["And that is how we know: even the smallest wish is worth following.",
                  "Remember: being brave does not mean never being afraid."]

# ---------------------------------------------------------------------------------- Chinese
ZH_NAMES = [("小禾", "她"), ("阿远", "他"), ("林夏", "她"), ("小满", "她"), ("青青", "她"),
            ("阿木", "他"), ("苏念", "她"), ("石头", "他"), ("小舟", "他"), ("安安", "她")]

ZH_ROLES = [("个", "年轻的制图师"), ("个", "守灯人的女儿"), ("个", "面包店的小学徒"),
            ("位", "修钟表的老人"), ("个", "爱收集羽毛的女孩"), ("个", "会修风筝的男孩"),
            ("位", "退休的老水手"), ("个", "害羞的小提琴手")]

# Character nouns a topic may name, with a measure word and a pronoun (None: pick by name).
ZH_CHARACTERS = [
    ("小狐狸", "只", "它"), ("狐狸", "只", "它"), ("小猫", "只", "它"), ("猫", "只", "它"),
    ("小狗", "只", "它"), ("狗", "只", "它"), ("兔子", "只", "它"), ("小熊", "只", "它"),
    ("熊", "只", "它"), ("小鸟", "只", "它"), ("鸟", "只", "它"), ("鲸鱼", "头", "它"),
    ("鲸", "头", "它"), ("企鹅", "只", "它"), ("乌龟", "只", "它"), ("松鼠", "只", "它"),
    ("龙", "条", "它"), ("狼", "只", "它"), ("老鼠", "只", "它"), ("小鹿", "只", "它"),
    ("机器人", "个", "它"), ("女孩", "个", "她"), ("小女孩", "个", "她"), ("姑娘", "个", "她"),
    ("公主", "位", "她"), ("奶奶", "位", "她"), ("外婆", "位", "她"), ("妈妈", "位", "她"),
    ("男孩", "个", "他"), ("小男孩", "个", "他"), ("少年", "个", "他"), ("爷爷", "位", "他"),
    ("王子", "位", "他"), ("渔夫", "个", "他"), ("老人", "位", None), ("孩子", "个", None),
    ("守灯人", "个", None), ("宇航员", "位", None), ("画家", "位", None), ("侦探", "位", None),
    ("骑士", "位", None), ("老师", "位", None), ("学生", "个", None), ("医生", "位", None),
    ("旅人", "个", None), ("厨师", "位", None), ("邮差", "个", None), ("农夫", "个", None),
]

# (first mention, later mentions)
ZH_PLACES = {
    "warm": [("海边的小镇", "小镇"), ("茶山脚下的村子", "村子"), ("开满面包店和旧书店的小街", "小街"),
             ("慢河边的农舍", "农舍")],
    "suspenseful": [("终年起雾的港口小城", "小城"), ("山坡上有一座锁着的钟楼的老城", "老城"),
                 ("午夜会响起钟声的村庄", "村庄"), ("海边一家半空着的旅馆", "旅馆")],
    "epic": [("高墙环绕的王国", "王国"), ("北方最后一座自由之城", "自由之城"), ("云端之上的山中要塞", "要塞"),
             ("地图尽头的国度", "那个国度")],
    "whimsical": [("周日时钟会倒着走的小镇", "小镇"), ("用绳子拴在云朵上的村子", "村子"),
                  ("满是歪烟囱和话痨风向标的城市", "城里"), ("连鱼都会给人指路的海边小镇", "小镇")],
}

ZH_OBJECTS = [("一只旧铜罗盘", "那只罗盘"), ("一盏纸灯笼", "那盏灯笼"), ("一本没写完的日记", "那本日记"),
              ("一枚会微微发光的贝壳", "那枚贝壳"), ("一把生锈的钥匙", "那把钥匙"), ("一张褪色的地图", "那张地图"),
              ("一支木笛", "那支木笛"), ("一条红围巾", "那条红围巾")]

ZH_COMPANIONS = ["一位摆渡的老人", "一只白爪子的灰猫", "卖纸灯笼的姑娘", "退休的老船长", "一只会数数的乌鸦",
                 "一位四处游历的说书人", "面包店的老奶奶", "一个穿蓝外套的陌生人"]

ZH_BEATS = {
    "setting": [
        ("place", 0, {
            "warm": ["在{place}，每天清晨都是从新出炉的面包香和海鸥的叫声开始的。",
                     "在{place}，日子过得很慢，大家也都喜欢这样慢慢地过。",
                     "{place}是那种总有人为你留一盏灯的地方。"],
            "suspenseful": ["在{place}，每天傍晚雾都会准时漫进来，分秒不差，却从没有人问过为什么。",
                         "{place}有一条谁也没写下来的规矩：钟声响过之后，不要出门。",
                         "{place}从来没出过什么事，正因为这样，那份安静才显得不太对劲。"],
            "epic": ["很久以前，{place}还在风中屹立，人们传唱着更勇敢的年代。",
                     "{place}熬过了三个战火中的冬天，还有一个饥荒的冬天。",
                     "{place}之外，是一片从没有哪张地图画完过的土地。"],
            "whimsical": ["在{place}，天气是每周二投票决定的。",
                          "在{place}，出名的只有两样东西：歪歪扭扭的小桥，和特别有主见的鸽子。",
                          "在{place}，每个人都至少有一顶专门用来跟鸟说话的帽子。"],
        }),
        ("hero_intro", 0, ["那里住着{hero_desc}。", "在那里，住着{hero_desc}。",
                           "那里住着{hero_desc}，总能注意到别人忽略的小事。"]),
        ("hero_detail", 1, ["{hero}走到哪儿都带着{object}，却从不说为什么。",
                            "每天傍晚，{hero}都抱着{object}坐在窗边，望着远方。",
                            "{hero}没有多少东西，最珍惜的就是{object}。"]),
        ("mood", 2, {
            "warm": ["窗子里亮着暖黄的灯，空气里有雨水和肉桂的味道。",
                     "邻居们在门口互相打招呼，日子里满是小小的善意。"],
            "suspenseful": ["有些夜里，本该空无一人的街上会传来脚步声。",
                         "广场上的老钟停在三点一刻，已经停了很多年。"],
            "epic": ["旗帜在风中猎猎作响，古老的歌谣里还唱着一个没有兑现的誓言。",
                     "天晴的时候，能望见远处的雪峰，白而沉默，像沉睡的巨人。"],
            "whimsical": ["黄昏时路灯会哼起歌来，多半还跑调。",
                          "就连石板路看上去都心情不错。"],
        }),
    ],
    "want": [
        ("want", 0, {
            "goal": ["{hero}最大的心愿，就是{goal}。", "{hero}只有一个愿望，从来没有变过：{goal}。",
                     "从记事起，{hero}就一直梦想着{goal}。"],
            "about": ["{hero}总是忍不住去想关于{about}的事。", "{hero}听过许多关于{about}的传闻，很想知道完整的故事。",
                      "有一个问题一直跟着{hero}，那就是关于{about}的真相。"],
        }),
        ("want_reason", 1, ["大人们笑着说那是胡思乱想，{ta}反而更加坚定了。",
                            "{ta}把这件事写在一张小纸条上，和{the_object}放在一起。",
                            "在别人看来这是件小事，可对{hero}来说，那就是整个世界。"]),
        ("want_extra", 2, ["于是一天清晨，趁大家还没醒，{hero}背上小包出发了。",
                           "{hero}订了一个计划，划掉，又订了一个更好的。",
                           "{ta}决定，不能再等下去了。"]),
    ],
    "obstacle": [
        ("obstacle", 0, {
            "warm": ["可是离开{the_place}的路很长，那一年的冬天又来得特别早。",
                     "可是{hero}心里害怕，而且这份害怕一天比一天大。"],
            "suspenseful": ["直到有一天夜里，{hero}发现了一扇前一天还不存在的门。",
                         "一天夜里，整个{the_place}的灯突然全灭了，有人敲了三下门。"],
            "epic": ["可是北方刮起了风暴，古老的桥一座接一座地倒塌。",
                     "可是边境上聚起了一支影子般的大军，希望越来越渺茫。"],
            "whimsical": ["不巧的是，风把镇上所有的地图都偷走了，还不肯还回来。",
                          "不巧的是，唯一的那座桥决定去度假了。"],
        }),
        ("struggle", 1, ["{hero}试了一次，失败了；又试了一次，败得更惨。",
                         "无论{hero}走哪条路，最后好像都会绕回原地。",
                         "人们开始劝{hero}放弃，早点回家。"]),
        ("low", 2, ["那天夜里，{hero}一个人坐着，握着{the_object}，怀疑这个心愿是不是从一开始就太傻了。",
                    "很长一段时间里，什么都没有改变，{hero}几乎不再相信了。",
                    "就连{the_object}也变得沉甸甸的，好像它也累了。"]),
    ],
    "turn": [
        ("turn", 0, {
            "warm": ["就在这时，{companion}在{hero}身边坐下，轻声说：“你不必一个人扛着。”",
                     "就在这时，{companion}端着一杯热茶来敲门，还带来了一个主意。"],
            "suspenseful": ["就在这时，{hero}注意到了别人都没发现的事：那串脚印是倒着走的。",
                         "就在这时，{companion}从雾里走出来，低声说出一个{hero}从没听过的名字。"],
            "epic": ["就在这时，{hero}爬上那座残破的高塔，看见整片大地铺展在眼前，像一个誓言。",
                     "就在这时，{companion}在黎明时分赶到，举着一面大家都以为早已失落的旗帜。"],
            "whimsical": ["就在这时，{companion}清了清嗓子，给出了一个非常有用的建议。",
                          "就在这时，窗台上的茶壶吹起了口哨，那调子听起来很像是在指路。"],
        }),
        ("insight", 1, ["这不是魔法，只是{hero}第一次停下来，认真地听。",
                        "那一刻，难题看起来不一样了：变小了，甚至有点温柔。",
                        "{hero}忽然明白，答案其实一直就在身边。"]),
        ("turn_extra", 2, ["{hero}把{the_object}举到光下，第一次，它指向了一个新的方向。",
                           "{hero}放声笑了出来，那笑声好像把路都打开了。",
                           "{hero}深吸一口气，重新迈出第一步，这一次，脚下的路稳稳的。"]),
    ],
    "resolution": [
        ("achieved", 0, ["最后，{hero}{achieved}。", "就这样，{hero}{achieved}。", "季节更替的时候，{hero}{achieved}。"]),
        ("reflect", 1, ["事情并没有按{ta}想象的那样发生，而是发生得更好。",
                        "{hero}现在明白了，这一路本身就是答案的一部分。",
                        "世界其实没怎么变，变了的是{hero}自己。"]),
        ("keepsake", 2, ["{hero}把{the_object}放在窗台上，让清晨的阳光能照到它。",
                         "很多年以后，{hero}还带着{the_object}，看着它的时候总会微笑。",
                         "后来，{hero}把{the_object}送给了一个和当年的自己一样爱提问的孩子。"]),
        ("closing", 0, {
            "warm": ["从那以后，每当{the_place}亮起灯火，人们就会笑着再讲一遍这个故事。",
                     "从那以后，{the_place}再也没有人觉得那么孤单了。"],
            "suspenseful": ["可是有时候，在很深的夜里，那扇门还会出现，而只有{hero}知道它通向哪里。",
                         "然而每逢起雾的夜晚，{hero}还是会数着敲门声，以防万一。"],
            "epic": ["直到今天，人们还在传唱那一天，传唱那个不肯回头的人。",
                     "风暴过去很久以后，这片土地依然记得{hero}。"],
            "whimsical": ["直到今天，每当有人许下一个勇敢的愿望，{the_place}的钟就会敲两下。",
                          "而{the_place}的鸽子们，至今还在争论这份功劳到底该算谁的。"],
        }),
    ],
}

ZH_WHEN = ["{when}，一切都变了。", "{when}，事情并没有按{hero}的计划发展。"]
ZH_ACTION = ["那天夜里，{hero}{action}。", "第二天一早，{hero}{action}。", "于是，{hero}{action}。"]  # done (了)
ZH_ACTION_PLAN = ["于是，{hero}鼓起勇气，决定{action}。", "第二天一早，{hero}就下定决心：{action}。"]
ZH_BUT = ["{but_word}{but}。"]

ZH_CHILD_MORAL = ["所以你看，再小的心愿，也值得去追。", "记住：勇敢不是不害怕，而是害怕了也继续向前。"]

# ------------------------------------------------------------------------ visual vocabulary
# (English visual term, category, English triggers, Chinese triggers). Categories order the
# words in an image prompt: character, object, place, weather, light.
VISUALS = [
    ("a young girl", "character", ["girl", "daughter"], ["女孩", "姑娘", "女儿"]),
    ("a young boy", "character", ["boy", "son"], ["男孩", "少年"]),
    ("an old man", "character", ["old man", "grandfather", "grandpa", "ferryman", "captain"],
     ["老人", "爷爷", "老船长", "摆渡"]),
    ("an old woman", "character", ["old woman", "grandmother", "grandma"], ["奶奶", "外婆", "老奶奶"]),
    # someone new is not the hero: their own term, so a shot of them shows a person
    ("a stranger in a long coat", "character", ["stranger", "visitor", "newcomer"], ["陌生人", "客人", "来客"]),
    ("a lone figure", "character", ["traveller", "traveler", "keeper", "sailor", "knight",
                                    "mapmaker", "teacher", "clockmaker", "violinist", "conductor"],
     ["旅人", "守灯人", "水手", "骑士", "制图师", "老师", "学徒"]),
    ("a small fox", "character", ["fox"], ["狐狸"]),
    ("a cat", "character", ["cat"], ["猫"]),
    ("a dog", "character", ["dog"], ["狗"]),
    ("a rabbit", "character", ["rabbit"], ["兔"]),
    ("a whale", "character", ["whale"], ["鲸"]),
    ("birds", "character", ["bird", "crow", "gull", "pigeon", "owl"], ["鸟", "乌鸦", "海鸥", "鸽子"]),
    ("a small robot", "character", ["robot"], ["机器人"]),
    ("a dragon", "character", ["dragon"], ["龙"]),
    ("a paper lantern", "object", ["lantern", "lamp"], ["灯笼", "路灯", "灯火"]),
    ("a brass compass", "object", ["compass"], ["罗盘"]),
    ("an old map", "object", ["map"], ["地图"]),
    ("a glowing shell", "object", ["shell"], ["贝壳"]),
    ("an old key", "object", ["key"], ["钥匙"]),
    ("a red scarf", "object", ["scarf"], ["围巾"]),
    ("a wooden door", "object", ["door"], ["门"]),
    ("a window", "object", ["window"], ["窗"]),
    ("a boat", "object", ["boat", "ship", "ferry", "sail"], ["船", "摆渡"]),
    ("a banner", "object", ["banner", "flag"], ["旗"]),
    ("a teapot", "object", ["teapot"], ["茶壶"]),
    ("a clock", "object", ["clock", "bell"], ["钟"]),
    ("a lighthouse", "place", ["lighthouse"], ["灯塔"]),
    ("a stone tower", "place", ["tower"], ["塔", "钟楼"]),
    ("a castle", "place", ["castle", "fortress", "kingdom", "walls"], ["城堡", "要塞", "王国", "高墙"]),
    ("a harbour", "place", ["harbour", "harbor", "port", "dock"], ["港", "码头"]),
    ("the sea", "place", ["sea", "ocean", "waves", "shore", "beach", "seaside"], ["海", "浪"]),
    ("a river", "place", ["river", "stream"], ["河", "江", "溪"]),
    ("mountains", "place", ["mountain", "peak", "hills", "cliff"], ["山", "峰", "雪峰"]),
    ("a forest", "place", ["forest", "woods", "trees", "tree"], ["森林", "树"]),
    ("a small town", "place", ["town", "village", "street", "square", "chimney"], ["镇", "村", "街", "广场", "烟囱"]),
    ("a city skyline", "place", ["city"], ["城市", "城"]),
    ("a cosy house", "place", ["house", "home", "farmhouse", "bakery", "hotel", "room"],
     ["屋", "家", "农舍", "面包店", "旅馆", "房间"]),
    ("a bridge", "place", ["bridge"], ["桥"]),
    ("a winding road", "place", ["road", "path", "journey"], ["路", "旅途"]),
    ("open fields", "place", ["field", "meadow", "farm"], ["田", "草地", "原野"]),
    ("a desert", "place", ["desert", "sand"], ["沙漠", "沙"]),
    ("a starry sky", "weather", ["star", "stars"], ["星"]),
    ("snow", "weather", ["snow", "winter", "ice"], ["雪", "冬", "冰"]),
    ("rain", "weather", ["rain"], ["雨"]),
    ("fog", "weather", ["fog", "mist"], ["雾"]),
    ("storm clouds", "weather", ["storm", "thunder"], ["风暴", "雷"]),
    ("clouds", "weather", ["cloud", "clouds", "sky"], ["云", "天空"]),
    ("fire", "weather", ["fire", "flame"], ["火"]),
    ("flowers", "weather", ["flower", "spring", "blossom"], ["花", "春"]),
    ("night, moonlight", "light", ["night", "moon", "midnight", "dark"], ["夜", "月", "午夜"]),
    ("sunset glow", "light", ["sunset", "dusk", "evening"], ["黄昏", "夕阳", "傍晚"]),
    ("soft dawn light", "light", ["dawn", "morning", "sunrise"], ["黎明", "清晨", "早晨", "日出"]),
    ("warm window light", "light", ["light", "glow", "candle"], ["灯", "光"]),
]

# Mood words across a whole story -> style words for every image prompt of that story.
MOOD_STYLES = [
    (["fog", "shadow", "dark", "knock", "door", "whisper", "midnight", "雾", "影", "敲", "门", "午夜", "低声"],
     "moody low-key lighting, mysterious atmosphere, muted colors"),
    (["army", "storm", "banner", "kingdom", "tower", "war", "大军", "风暴", "旗", "王国", "高塔", "战"],
     "epic scale, dramatic sky, heroic composition"),
    (["teapot", "pigeon", "hat", "clock", "vote", "holiday", "茶壶", "鸽子", "帽子", "投票", "度假", "歪"],
     "whimsical storybook style, playful shapes, pastel colors"),
    (["bread", "tea", "lamp", "neighbour", "smile", "home", "面包", "茶", "灯", "邻居", "笑", "家"],
     "warm golden light, cozy atmosphere, gentle colors"),
]


# --------------------------------------------------------------------------- storyboard shots
# Shot labels by position and content, and the English framing words for the image prompt.
SHOT_LABELS: dict[str, dict[str, Any]] = {"en": {"first": "Establishing wide shot", "last": "Closing wide shot", "close": "Close-up",
                      "wide": "Wide shot", "mid": ("Medium shot", "Medium close-up")},
               "zh": {"first": "开场远景", "last": "结尾远景", "close": "特写", "wide": "远景",
                      "mid": ("中景", "近景")}}
FRAMING = {"Establishing wide shot": "wide establishing shot", "Closing wide shot": "wide closing shot",
           "Close-up": "close-up shot", "Wide shot": "wide shot", "Medium shot": "medium shot",
           "Medium close-up": "medium close-up", "开场远景": "wide establishing shot",
           "结尾远景": "wide closing shot", "特写": "close-up shot", "远景": "wide shot",
           "中景": "medium shot", "近景": "medium close-up"}
# Words that make a middle shot a close-up.
CLOSE_WORDS_EN = ("face", "eyes", "whisper", "held", "hand", "noticed", "realised", "realized", "laughed")
CLOSE_WORDS_ZH = ("脸", "眼", "低声", "握", "手", "注意到", "明白", "笑")

# ------------------------------------------------------------------------------ camera moves
# Words in a shot's scene (counted twice) and narration that score movements.
CAMERA_RULES = [  # (words, {movement: weight})
    (("sky", "mountain", "tower", "lighthouse", "tree", "star", "moon", "climb", "rose", "rise", "tall",
      "castle", "peak", "banner", "天空", "山", "塔", "星", "月", "爬", "升", "高", "旗", "峰"),
     {"tilt_up": 2.0}),
    (("fell", "fall", "ground", "below", "valley", "sat down", "kneel", "落", "跌", "低头", "地上", "坐下"),
     {"tilt_down": 2.0}),
    (("road", "journey", "path", "river", "street", "walk", "travel", "horizon", "sea", "town", "bridge",
      "set out", "路", "河", "旅", "街", "走", "海", "镇", "桥", "出发", "远方"),
     {"pan_right": 1.6, "pan_left": 1.5}),
    (("face", "eyes", "secret", "heart", "whisper", "hand", "letter", "noticed", "realised", "realized",
      "close-up", "question", "心", "眼", "秘密", "脸", "手", "注意到", "明白", "特写", "近景", "低声", "问题"),
     {"zoom_in": 2.0, "dolly_in": 1.4}),
    (("door", "enter", "approach", "toward", "into", "step", "门", "走进", "靠近", "迈出"),
     {"dolly_in": 2.0}),
    (("end", "farewell", "goodbye", "last", "forever", "to this day", "years later", "home", "closing",
      "告别", "结尾", "最后", "再见", "从此", "直到今天", "多年以后", "很多年以后", "从那以后"),
     {"zoom_out": 2.0, "dolly_out": 1.7}),
    (("silence", "still", "waited", "alone", "quiet", "nothing changed", "静", "等", "沉默", "一个人", "什么都没有"),
     {"static": 1.8}),
]
# Words that raise or lower a move's intensity; the order of moves when a shot has no cue words.
INTENSE_WORDS = ("storm", "suddenly", "ran", "army", "battle", "lights went out", "knock", "风暴", "突然", "奔",
                 "大军", "灯突然", "敲")
CALM_WORDS = ("quiet", "slowly", "gentle", "soft", "morning", "静", "慢", "轻", "清晨")
CAMERA_FALLBACK_ORDER = ("dolly_in", "pan_right", "zoom_in", "pan_left", "tilt_up", "zoom_out", "dolly_out")

# ----------------------------------------------------------------------------------- painter
PALETTES = {  # sky top, sky middle, horizon, disc (sun/moon), land (near), water, silhouette
    "night": dict(top=(6, 10, 32), mid=(20, 32, 78), horizon=(58, 78, 130), disc=(238, 236, 214),
                  land=(10, 14, 32), water=(14, 28, 62), ink=(4, 6, 16)),
    "sunset": dict(top=(48, 36, 92), mid=(196, 84, 96), horizon=(255, 168, 84), disc=(255, 222, 140),
                   land=(52, 24, 44), water=(126, 62, 82), ink=(28, 12, 24)),
    "fire": dict(top=(36, 10, 12), mid=(140, 34, 20), horizon=(255, 120, 40), disc=(255, 210, 120),
                 land=(34, 12, 8), water=(90, 30, 20), ink=(18, 6, 4)),
    "dawn": dict(top=(84, 112, 176), mid=(196, 170, 200), horizon=(255, 206, 170), disc=(255, 240, 200),
                 land=(62, 72, 96), water=(120, 140, 180), ink=(30, 34, 50)),
    "snow": dict(top=(132, 156, 196), mid=(196, 210, 230), horizon=(238, 242, 248), disc=(255, 252, 240),
                 land=(222, 230, 240), water=(150, 175, 200), ink=(54, 62, 84)),
    "storm": dict(top=(34, 38, 48), mid=(70, 76, 90), horizon=(124, 128, 138), disc=(210, 214, 220),
                  land=(28, 32, 38), water=(50, 58, 70), ink=(14, 16, 20)),
    "sea": dict(top=(30, 96, 140), mid=(90, 170, 190), horizon=(190, 230, 222), disc=(255, 248, 220),
                land=(32, 72, 80), water=(18, 112, 124), ink=(12, 32, 40)),
    "forest": dict(top=(110, 160, 160), mid=(170, 206, 180), horizon=(226, 232, 190), disc=(255, 246, 206),
                   land=(20, 62, 38), water=(40, 100, 90), ink=(8, 26, 16)),
    "desert": dict(top=(92, 150, 210), mid=(180, 200, 220), horizon=(252, 218, 164), disc=(255, 246, 210),
                   land=(186, 124, 74), water=(90, 150, 180), ink=(70, 40, 24)),
    "spring": dict(top=(136, 186, 232), mid=(200, 220, 240), horizon=(252, 232, 236), disc=(255, 250, 230),
                   land=(84, 142, 72), water=(100, 170, 200), ink=(36, 60, 36)),
}
# Words in an image prompt that pick a palette; the first match wins, otherwise a hashed palette.
PALETTE_WORDS = [
    ("night", ("night", "moon", "midnight", "starry", "stars", "dark", "夜", "月")),
    ("fire", ("fire", "flame", "burning", "火")),
    ("sunset", ("sunset", "dusk", "evening", "autumn", "黄昏", "夕阳", "傍晚", "秋")),
    ("dawn", ("dawn", "sunrise", "morning", "黎明", "清晨", "日出")),
    ("snow", ("snow", "winter", "ice", "frozen", "雪", "冬", "冰")),
    ("storm", ("storm", "rain", "thunder", "fog", "mist", "grey", "风暴", "雨", "雷", "雾")),
    ("sea", ("sea", "ocean", "harbour", "harbor", "lake", "whale", "beach", "teal", "海", "湖", "港")),
    ("forest", ("forest", "woods", "jungle", "tree", "green", "森林", "树")),
    ("desert", ("desert", "sand", "dune", "沙漠", "沙")),
    ("spring", ("flower", "spring", "blossom", "garden", "花", "春")),
]
